/**
 * The subcommands of `emotion-kiosk`: name, one-line summary and where the implementation lives. Pure data and
 * dynamic imports only: main.ts loads a command's module when that command runs, so `doctor`, `config` and
 * `dashboard` never load the OpenCV add-on or onnxruntime (a broken add-on is then something `doctor` reports as a
 * FAIL line, not an import-time crash of every command).
 */
import type { Command } from 'commander';
import { SUMMARIES } from './summaries.js';

export interface CommandEntry {
  summary: string;
  /** Loads the command's module and returns its registration function. */
  load: () => Promise<(program: Command) => void>;
}

export const COMMANDS = {
  run: {
    summary: SUMMARIES.run,
    load: async () => (await import('./run.js')).registerRunCommand,
  },
  evaluate: {
    summary: SUMMARIES.evaluate,
    load: async () => (await import('./evaluate.js')).registerEvaluateCommand,
  },
  config: {
    summary: SUMMARIES.config,
    load: async () => (await import('./config.js')).registerConfigCommand,
  },
  doctor: {
    summary: SUMMARIES.doctor,
    load: async () => (await import('./doctor.js')).registerDoctorCommand,
  },
  dashboard: {
    summary: SUMMARIES.dashboard,
    load: async () => (await import('./dashboard.js')).registerDashboardCommand,
  },
  fleet: {
    summary: SUMMARIES.fleet,
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
