/** A private tmux server for dashboard tests: sessions at a fixed size, screen captures, liveness, the pane's process. */
import { execFileSync } from 'node:child_process';

export class Tmux {
  readonly socket = `ek-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  run(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  start(session: string, cmd: string, cols = 80, rows = 24): void {
    // remain-on-exit: the pane stays after the program exits, so a crash leaves its last screen to read
    this.run('new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows), cmd, ';', 'set-option', '-t', session, 'remain-on-exit', 'on');
  }

  /** The visible screen as text ('' when the session is gone). */
  screen(session: string): string {
    try {
      return this.run('capture-pane', '-p', '-t', session);
    } catch {
      return '';
    }
  }

  /** True while the program in the pane runs (the pane stays after it exits). */
  alive(session: string): boolean {
    try {
      return this.run('display-message', '-p', '-t', session, '#{pane_dead}').trim() === '0';
    } catch {
      return false;
    }
  }

  /** The pane's title: an OSC 0/2 escape sequence printed by the program would change it. */
  title(session: string): string {
    try {
      return this.run('display-message', '-p', '-t', session, '#{pane_title}').trim();
    } catch {
      return '';
    }
  }

  pid(session: string): number {
    return Number(this.run('display-message', '-p', '-t', session, '#{pane_pid}').trim());
  }

  keys(session: string, ...keys: string[]): void {
    this.run('send-keys', '-t', session, ...keys);
  }

  kill(): void {
    try {
      this.run('kill-server');
    } catch {
      /* already gone */
    }
  }
}
