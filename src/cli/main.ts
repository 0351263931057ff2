#!/usr/bin/env node
/** The `emotion-kiosk` command: one program, one file per subcommand. */
import { Command } from 'commander';
import { packageVersion } from '../util/paths.js';
import { registerConfigCommand } from './config.js';
import { registerEvaluateCommand } from './evaluate.js';
import { registerRunCommand } from './run.js';
import { registerDoctorCommand } from './doctor.js';
import { registerDashboardCommand } from './dashboard.js';

const program = new Command()
  .name('emotion-kiosk')
  .description('Facial-emotion recognition kiosk: camera -> faces -> Deep_Emotion (ONNX) -> events, MQTT, dashboard')
  .version(packageVersion())
  .showHelpAfterError();

registerRunCommand(program);
registerEvaluateCommand(program);
registerConfigCommand(program);
registerDoctorCommand(program);
registerDashboardCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`emotion-kiosk: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
