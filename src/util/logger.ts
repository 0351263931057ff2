/** A small levelled logger writing one line per message to stderr (journald picks it up on a device). */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  child(scope: string): Logger;
}

export function createLogger(level: LogLevel = 'info', scope = '', write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const log = (lvl: LogLevel, msg: string) => {
    if (ORDER[lvl] <= ORDER[level]) write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${scope ? `[${scope}] ` : ''}${msg}`);
  };
  return {
    error: (m) => log('error', m),
    warn: (m) => log('warn', m),
    info: (m) => log('info', m),
    debug: (m) => log('debug', m),
    child: (s) => createLogger(level, scope ? `${scope}/${s}` : s, write),
  };
}

export const silentLogger: Logger = createLogger('error', '', () => {});
