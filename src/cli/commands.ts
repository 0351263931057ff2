/**
 * The subcommands of `emotion-kiosk`: name, one-line summary and where the implementation lives. Pure data and
 * dynamic imports only: main.ts loads a command's module when that command runs, so `doctor`, `config` and
 * `dashboard` never load the OpenCV add-on or onnxruntime (a broken add-on is then something `doctor` reports as a
 * FAIL line, not an import-time crash of every command).
 */
import type { Command } from 'commander';

export interface CommandEntry {
  summary: string;
  /** Loads the command's module and returns its registration function. */
  load: () => Promise<(program: Command) => void>;
}

export const COMMANDS = {
  run: {
    summary: 'run the kiosk: camera -> faces -> emotions -> events (display, MQTT, dashboard)',
    load: async () => (await import('./run.js')).registerRunCommand,
  },
  evaluate: {
    summary: 'measure a model on a folder of labelled face crops (<class>/<image>, e.g. FER2013 test/)',
    load: async () => (await import('./evaluate.js')).registerEvaluateCommand,
  },
  config: {
    summary: 'print the effective configuration (defaults < config file < EMOTION_KIOSK_* environment) or check a file',
    load: async () => (await import('./config.js')).registerConfigCommand,
  },
  doctor: {
    summary:
      'check camera access, model files, the OpenCV build, the broker, disk space for the outbox, the clock and the OS; print what to fix (exit 1 when something fails)',
    load: async () => (await import('./doctor.js')).registerDoctorCommand,
  },
  dashboard: {
    summary: 'terminal dashboard of one or many kiosks over MQTT (q quit, d/Tab next device, p pause)',
    load: async () => (await import('./dashboard.js')).registerDashboardCommand,
  },
  fleet: {
    summary: 'fleet operations over MQTT: keygen / sign / verify models, status of every kiosk, command <device|all> <command> [json]',
    load: async () => (await import('./fleet.js')).registerFleetCommand,
  },
} as const satisfies Record<string, CommandEntry>;

export type CommandName = keyof typeof COMMANDS;

const isCommandName = (s: string | undefined): s is CommandName => s !== undefined && Object.hasOwn(COMMANDS, s);

/**
 * Which command's module an argument vector (without node and the script) needs: the first word when it names a
 * command, or the word after `help`. Undefined for top-level help, --version, an unknown command or none.
 */
export function commandToLoad(args: readonly string[]): CommandName | undefined {
  const [first, second] = args;
  if (isCommandName(first)) return first;
  if (first === 'help' && isCommandName(second)) return second;
  return undefined;
}
