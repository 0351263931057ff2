/**
 * Fake Raspberry Pi camera programs for tests: `rpicam-vid`, `libcamera-vid`, `raspistill` cannot run here, so a
 * node script with that name goes on PATH. It writes real JPEG frames (cut from Megamind.avi by the test) to stdout
 * the way the real programs do, in chunks that split frames and with junk between frames; each run follows a plan:
 * how many frames, then exit (with a code and an stderr message), stop sending (stall), or run until killed.
 * Runs are counted in a state file, so "dies after N frames, then works again" (an unplugged camera) is scriptable.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FakeRun {
  /** Frames to send (cycling through the JPEGs); Infinity = until killed. */
  frames: number;
  /** After the frames: exit (default), stall (stay alive, send nothing) or forever (only with frames: Infinity). */
  then?: 'exit' | 'stall';
  exitCode?: number;
  /** Written to stderr before exiting (e.g. the real "ERROR: *** no cameras available ***"). */
  stderr?: string;
  intervalMs?: number;
  /**
   * Write each frame's second half together with the next frame's first half, so that no write after the first
   * starts at a frame boundary (what a busy reader sees from a pipe: frames glued across reads).
   */
  glued?: boolean;
}

export interface FakeCamera {
  dir: string;
  /** PATH with the fakes first and node available for their shebang. */
  path: string;
  /** The argument lists of every run so far. */
  invocations(): string[][];
  /** Process id of run `n` (0-based). */
  pid(n: number): number;
  cleanup(): void;
}

const SCRIPT = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const dir = __dirname;
const plan = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8'));
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, 'invocations.jsonl'), JSON.stringify(args) + '\n');
const expected = plan.expectArgs[path.basename(process.argv[1])];
if (expected && JSON.stringify(expected) !== JSON.stringify(args)) {
  process.stderr.write('fake: unexpected arguments ' + JSON.stringify(args) + ', expected ' + JSON.stringify(expected) + '\n');
  process.exit(64);
}
const countFile = path.join(dir, 'runs');
const runIndex = fs.existsSync(countFile) ? Number(fs.readFileSync(countFile, 'utf8')) : 0;
fs.writeFileSync(countFile, String(runIndex + 1));
fs.writeFileSync(path.join(dir, 'pid-' + runIndex), String(process.pid));
const run = plan.runs[Math.min(runIndex, plan.runs.length - 1)];
const blob = fs.readFileSync(path.join(dir, 'frames.bin'));
const frames = [];
for (let o = 0, i = 0; i < plan.frameLengths.length; o += plan.frameLengths[i], i++) frames.push(blob.subarray(o, o + plan.frameLengths[i]));
const total = run.frames === null ? Infinity : run.frames;
let sent = 0;
process.on('SIGTERM', () => process.exit(143));
process.stdout.on('error', () => process.exit(141));
let carry = Buffer.alloc(0);
function finish() {
  if (carry.length) { process.stdout.write(carry); carry = Buffer.alloc(0); }
  if (run.then === 'stall') { setInterval(() => {}, 1000); return; }
  if (run.stderr) process.stderr.write(run.stderr + '\n');
  process.exitCode = run.exitCode === undefined ? 0 : run.exitCode;
  process.stdout.end();
}
function tick() {
  if (sent >= total) return finish();
  const jpeg = frames[sent % frames.length];
  // junk between frames, and the frame in three pieces so chunk boundaries fall inside it
  const junk = Buffer.from([0x00, 0xff, 0x00, 0x13, 0x37]);
  const a = Math.floor(jpeg.length / 3), b = Math.floor((2 * jpeg.length) / 3);
  if (run.glued) {
    const half = Math.floor(jpeg.length / 2);
    process.stdout.write(Buffer.concat([carry, jpeg.subarray(0, half)]));
    carry = jpeg.subarray(half);
  } else {
    for (const piece of [junk, jpeg.subarray(0, a), jpeg.subarray(a, b), jpeg.subarray(b)]) process.stdout.write(piece);
  }
  sent++;
  setTimeout(tick, run.intervalMs === undefined ? 10 : run.intervalMs);
}
tick();
`;

export function installFakeCamera(names: string[], jpegs: Buffer[], runs: FakeRun[], expectArgs: Record<string, string[]> = {}): FakeCamera {
  const dir = mkdtempSync(join(tmpdir(), 'fake-camera-'));
  writeFileSync(join(dir, 'frames.bin'), Buffer.concat(jpegs));
  const plan = { frameLengths: jpegs.map((j) => j.length), runs: runs.map((r) => ({ ...r, frames: Number.isFinite(r.frames) ? r.frames : null })), expectArgs };
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan));
  for (const name of names) {
    writeFileSync(join(dir, name), SCRIPT);
    chmodSync(join(dir, name), 0o755);
  }
  return {
    dir,
    path: `${dir}:${dirname(process.execPath)}`,
    invocations: () => {
      const file = join(dir, 'invocations.jsonl');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as string[]);
    },
    pid: (n) => Number(readFileSync(join(dir, `pid-${n}`), 'utf8')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs `fn` with PATH replaced, restoring it afterwards. */
export async function withPath<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = path;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}
