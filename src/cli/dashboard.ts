/** `emotion-kiosk dashboard`: watch one kiosk or all kiosks under a prefix, live, over MQTT. */
import type { Command } from 'commander';
import { COMMANDS } from './commands.js';
import { routeLogLine, runMqttDashboard } from '../dashboard/index.js';
import { createLogger } from '../util/logger.js';
import { redactUrl, splitCredentials } from '../util/redact.js';

interface DashboardFlags {
  broker: string;
  device: string;
  topicPrefix: string;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  debug?: boolean;
}

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description(COMMANDS.dashboard.summary)
    .option('--broker <url>', 'mqtt[s]://host:port of the broker the kiosks publish to', 'mqtt://127.0.0.1:1883')
    .option('--device <id|all>', 'one device id, or all devices under the prefix', 'all')
    .option('--topic-prefix <prefix>', 'topic prefix the kiosks use', 'emotion-kiosk')
    .option('--username <user>', 'broker user name')
    .option('--password <password>', 'broker password (or EMOTION_KIOSK_MQTT__PASSWORD)')
    .option('--ca <file>', 'CA certificate (PEM) for mqtts://')
    .option('--cert <file>', 'client certificate (PEM) for brokers that require one (with --key)')
    .option('--key <file>', 'private key (PEM) of --cert')
    .option('--insecure', 'mqtts:// without checking the broker certificate')
    .option('--debug', 'log details in the events panel (e.g. the topic of each malformed message dropped)')
    .action(async (f: DashboardFlags) => {
      const b = splitCredentials(f.broker);
      if (!b.ok || !['mqtt', 'mqtts', 'ws', 'wss'].includes(b.scheme)) {
        throw new Error(`--broker ${redactUrl(f.broker)}: ${b.ok ? 'expected mqtt://host:port or mqtts://host:port' : `${b.problem}; or use --username / --password`}`);
      }
      if (f.device !== 'all' && !/^[A-Za-z0-9_-]+$/.test(f.device)) throw new Error(`--device ${f.device}: letters, digits, _ and - only, or all`);
      if (/[#+]/.test(f.topicPrefix)) throw new Error(`--topic-prefix ${f.topicPrefix}: no MQTT wildcards (# +)`);
      if (!process.stdout.isTTY) throw new Error('dashboard needs a terminal (stdout is not a TTY)');
      await runMqttDashboard({
        url: f.broker,
        prefix: f.topicPrefix,
        device: f.device,
        username: f.username,
        password: f.password ?? process.env.EMOTION_KIOSK_MQTT__PASSWORD,
        ca: f.ca,
        cert: f.cert,
        key: f.key,
        rejectUnauthorized: !f.insecure,
        logger: createLogger(f.debug ? 'debug' : 'info', 'dashboard', routeLogLine),
      });
    });
}
