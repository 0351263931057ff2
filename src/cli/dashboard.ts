/** `emotion-kiosk dashboard`: watch one kiosk or all kiosks under a prefix, live, over MQTT. */
import type { Command } from 'commander';
import { SUMMARIES } from './summaries.js';
import { routeLogLine, runMqttDashboard } from '../dashboard/index.js';
import { createLogger } from '../util/index.js';
import { addBrokerOptions, brokerSettings, type BrokerFlags } from './broker-flags.js';

interface DashboardFlags extends BrokerFlags {
  device: string;
  debug?: boolean;
}

export function registerDashboardCommand(program: Command): void {
  addBrokerOptions(program.command('dashboard').description(SUMMARIES.dashboard), {
    broker: 'the broker the kiosks publish to',
    username: 'broker user name',
  })
    .option('--device <id|all>', 'one device id, or all devices under the prefix', 'all')
    .option('--debug', 'log details in the events panel (e.g. the topic of each malformed message dropped)')
    .action(async (f: DashboardFlags) => {
      const settings = brokerSettings(f);
      if (f.device !== 'all' && !/^[A-Za-z0-9_-]+$/.test(f.device)) throw new Error(`--device ${f.device}: letters, digits, _ and - only, or all`);
      if (!process.stdout.isTTY) throw new Error('dashboard needs a terminal (stdout is not a TTY)');
      await runMqttDashboard({
        ...settings,
        prefix: f.topicPrefix,
        device: f.device,
        logger: createLogger(f.debug ? 'debug' : 'info', 'dashboard', routeLogLine),
      });
    });
}
