/** `emotion-kiosk doctor`: checks the device (camera, model, OpenCV, broker, disk, clock, OS) and says what to fix. */
import type { Command } from 'commander';
import { SUMMARIES } from './summaries.js';
import { formatReport, runDoctor } from '../doctor/index.js';

interface DoctorFlags {
  config?: string;
  json?: boolean;
  preflight?: boolean;
  camera: boolean;
  brokerTimeout: string;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(SUMMARIES.doctor)
    .option('-c, --config <file>', 'config file, YAML or JSON (default: $EMOTION_KIOSK_CONFIG)')
    .option('--json', 'print the results as JSON')
    .option('--preflight', 'the service\'s start-up check: fast, no camera read, no broker probe')
    .option('--no-camera', 'do not open the camera to read a frame')
    .option('--broker-timeout <ms>', 'how long to wait for the broker', '5000')
    .action(async (flags: DoctorFlags) => {
      const timeout = Number(flags.brokerTimeout);
      if (!Number.isInteger(timeout) || timeout <= 0) throw new Error(`--broker-timeout must be a positive number of milliseconds, got "${flags.brokerTimeout}"`);
      const report = await runDoctor({
        configFile: flags.config,
        preflight: flags.preflight ?? false,
        readCamera: flags.camera && !flags.preflight,
        brokerTimeoutMs: timeout,
      });
      const text = flags.json ? JSON.stringify({ ok: report.exitCode === 0, counts: report.counts, checks: report.checks }, null, 2) + '\n' : formatReport(report);
      // Exit explicitly: native sessions and sockets must not keep a check alive, but stdout must be flushed first.
      process.stdout.write(text, () => process.exit(report.exitCode));
    });
}
