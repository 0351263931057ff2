/** `emotion-kiosk config`: shows the effective configuration (defaults < file < environment), secrets masked, or checks a file. */
import type { Command } from 'commander';
import { SUMMARIES } from './summaries.js';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../config/index.js';
import { maskConfig } from '../util/index.js';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description(SUMMARIES.config)
    .option('-c, --config <file>', 'config file, YAML or JSON (default: $EMOTION_KIOSK_CONFIG)')
    .option('--json', 'print JSON instead of YAML')
    .option('--check', 'only validate: print "ok" or the problems, exit 2 when invalid')
    .action((opts: { config?: string; json?: boolean; check?: boolean }) => {
      try {
        const { config, unknownEnv, file, notes } = loadConfig({ file: opts.config });
        for (const key of unknownEnv) process.stderr.write(`warning: ${key} is not a configuration key (ignored)\n`);
        for (const note of notes) process.stderr.write(`note: ${note}\n`);
        if (opts.check) process.stdout.write(`ok${file ? `: ${file}` : ''}\n`);
        else {
          // passwords and the credentials in URLs (broker, camera source) are masked: this output gets pasted into tickets
          const shown = maskConfig(config);
          process.stdout.write(opts.json ? JSON.stringify(shown, null, 2) + '\n' : stringify(shown));
        }
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`emotion-kiosk config: ${err.message}\n`);
        process.exit(2);
      }
    });
}
