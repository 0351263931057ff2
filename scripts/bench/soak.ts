/**
 * The soak benchmark (`npm run bench -- soak [--minutes 10] [--fast] [--clip FILE]`), figures, not a test: the real
 * kiosk (dist/cli/main.js run) on a looped clip, publishing to a local mosquitto that is restarted every minute (with
 * persistence, as on a device), a persistent QoS 1 subscriber in its own process counting what arrives. Every 10 s
 * the kiosk answers with its RSS, V8 heap and open file descriptors (scripts/bench/soak-probe.mjs, loaded with
 * --import). At the end: the RSS slope after warm-up (least squares, MB/hour), heap min/max, fds at start and end,
 * events generated (the run summary) vs delivered (distinct event ids received). Goal: <= 1 MB/hour, no fd growth,
 * 0 events missing.
 *
 * The clip plays at its own rate (--realtime, like a camera); --fast decodes as fast as the CPU allows. The kiosk and
 * the broker run under nice 10: the benchmark is meant to share a machine. As under systemd, the kiosk gets a
 * $NOTIFY_SOCKET (a python3 datagram listener) and a 2 s watchdog, so the systemd-notify child per ping is soaked too
 * (--no-notify: without).
 *
 * Allocator: the kiosk gets the malloc settings of device/emotion-kiosk.service (its MALLOC_*, GLIBC_TUNABLES and
 * LD_PRELOAD Environment= lines), never the caller's shell's; --env=NAME=VALUE (repeatable) sets or (--env=NAME=)
 * removes one on top, --no-unit-env starts from glibc's defaults. --warmup=S: samples before S s are warm-up (default
 * 120 s). --heap-snapshots=S,S: V8 heap snapshots of the kiosk at those seconds, to diff. (Write these with `=`: scripts/bench/index.ts takes a bare word after them for a bench name.)
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const MOSQUITTO = '/usr/sbin/mosquitto';

export interface SoakOptions {
  minutes: number;
  fast: boolean;
  notify: boolean;
  clip: string;
  restartEveryS: number;
  sampleEveryS: number;
  /** Samples before this are warm-up (default: 2 min, or a fifth of a short run). */
  warmupS: number;
  /** The allocator settings of device/emotion-kiosk.service (its Environment= lines), as the device runs them. */
  unitEnv: boolean;
  /** --env NAME=VALUE (repeatable): set in the kiosk's environment, over the unit's; NAME= removes it. */
  env: Record<string, string>;
  /** --heap-snapshots=S,S,...: write a V8 heap snapshot of the kiosk at these seconds (files in the soak's folder). */
  heapSnapshotsS: number[];
}

export interface Sample {
  tS: number;
  rss: number;
  heapUsed: number;
  /** V8's external memory (Buffers, ArrayBuffers; not OpenCV Mats, whose accounting is off). */
  external: number;
  /** Linux: the anonymous (malloc, V8) and file-backed (code of the libraries) parts of the RSS. */
  rssAnon?: number;
  rssFile?: number;
  fds: number;
}

export function parseSoakArgs(argv: readonly string[]): SoakOptions {
  const value = (name: string): string | undefined => {
    const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    return argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  };
  const minutes = Number(value('--minutes') ?? 10);
  if (!(minutes > 0)) throw new Error(`--minutes: expected a positive number, got ${value('--minutes')}`);
  const env: Record<string, string> = {};
  argv.forEach((a, i) => {
    const kv = a === '--env' ? argv[i + 1] : a.startsWith('--env=') ? a.slice('--env='.length) : undefined;
    if (kv === undefined) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(kv);
    if (!m) throw new Error(`--env: expected NAME=VALUE, got ${kv}`);
    env[m[1]!] = m[2]!;
  });
  const warmup = value('--warmup');
  if (warmup !== undefined && !(Number(warmup) >= 0)) throw new Error(`--warmup: expected seconds >= 0, got ${warmup}`);
  return {
    minutes,
    fast: argv.includes('--fast'),
    warmupS: warmup !== undefined ? Number(warmup) : Math.min(120, (minutes * 60) / 5),
    unitEnv: !argv.includes('--no-unit-env'),
    env,
    notify: !argv.includes('--no-notify'),
    clip: value('--clip') ?? '/usr/share/doc/opencv-doc/examples/data/Megamind.avi',
    restartEveryS: Number(value('--restart-every') ?? 60),
    sampleEveryS: Number(value('--sample-every') ?? 10),
    heapSnapshotsS: heapSnapshots(value('--heap-snapshots')),
  };
}

function heapSnapshots(list: string | undefined): number[] {
  if (list === undefined) return [];
  const s = list.split(',').map(Number);
  if (!s.every((x) => x >= 0)) throw new Error(`--heap-snapshots: expected seconds separated by commas, got ${list}`);
  return s.sort((a, b) => a - b);
}

/**
 * The process-level settings of the systemd unit that change how the kiosk uses memory (glibc malloc tunables, a
 * preloaded allocator), from its Environment= lines: the soak runs the kiosk with them, as a device does.
 */
export function unitAllocatorEnv(unitText: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unitText.split('\n')) {
    const m = /^\s*Environment=(.*)$/.exec(line);
    if (!m) continue;
    // One assignment per line in this unit; quotes allowed around it.
    const kv = m[1]!.trim().replace(/^"(.*)"$/, '$1');
    const eq = kv.indexOf('=');
    if (eq <= 0) continue;
    const name = kv.slice(0, eq);
    if (/^(MALLOC_\w+|GLIBC_TUNABLES|LD_PRELOAD)$/.test(name)) env[name] = kv.slice(eq + 1);
  }
  return env;
}

/** Least-squares slope of y over x (units of y per unit of x); NaN with fewer than two points. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : Number.NaN;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

class Broker {
  proc: ChildProcess | null = null;
  restarts = 0;
  constructor(
    readonly port: number,
    private readonly conf: string,
  ) {}
  async up(): Promise<void> {
    const p = spawn('nice', ['-n', '10', MOSQUITTO, '-c', this.conf], { stdio: 'ignore' });
    this.proc = p;
    for (let i = 0; i < 500 && !(await canConnect(this.port)); i++) {
      if (p.exitCode !== null) throw new Error(`mosquitto exited with ${p.exitCode}`);
      await sleep(20);
    }
  }
  async down(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM'); // saves persistence
    await exited;
    this.proc = null;
  }
  async restart(downMs: number): Promise<void> {
    await this.down();
    await sleep(downMs);
    await this.up();
    this.restarts++;
  }
}

function ask<T>(child: ChildProcess, message: string | object, timeoutMs = 5000): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('message', on);
      resolve(undefined);
    }, timeoutMs);
    const on = (m: unknown) => {
      if (m && typeof m === 'object' && !('connected' in m)) {
        clearTimeout(timer);
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
    child.send(message);
  });
}

export async function benchSoak(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const o = parseSoakArgs(argv);
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} not found (apt-get install mosquitto)`);
  const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} not found: npm run build`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ek-soak-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, ['user root', `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'autosave_interval 3600', 'max_queued_messages 0', 'log_dest none'].join('\n') + '\n');
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, [`mqtt:`, `  broker: mqtt://127.0.0.1:${port}`, `  deviceId: soak`, `dataDir: ${path.join(dir, 'data')}`, `logLevel: info`].join('\n') + '\n');
  const summaryFile = path.join(dir, 'summary.json');
  const notify = o.notify ? await notifyListener(path.join(dir, 'notify.sock')) : undefined;
  const logFile = path.join(dir, 'kiosk.log');
  const unitFile = path.join(repoRoot, 'device', 'emotion-kiosk.service');
  const allocEnv = { ...(o.unitEnv && existsSync(unitFile) ? unitAllocatorEnv(readFileSync(unitFile, 'utf8')) : {}), ...o.env };
  const kioskEnv: NodeJS.ProcessEnv = { ...process.env, EMOTION_KIOSK_CONFIG: '', ...(notify ? { NOTIFY_SOCKET: notify.socket, WATCHDOG_USEC: '2000000' } : {}) };
  // The soak's own shell must not decide the allocator: only the unit's settings and --env apply.
  for (const k of Object.keys(kioskEnv)) if (/^(MALLOC_\w+|GLIBC_TUNABLES|LD_PRELOAD)$/.test(k)) delete kioskEnv[k];
  for (const [k, v] of Object.entries(allocEnv)) if (v === '') delete kioskEnv[k];
  else kioskEnv[k] = v;
  const allocWords = Object.entries(allocEnv).filter(([, v]) => v !== '').map(([k, v]) => `${k}=${v}`).join(' ') || 'none (glibc defaults)';

  const broker = new Broker(port, conf);
  await broker.up();
  const sub = fork(path.join(here, 'soak-subscriber.ts'), [`mqtt://127.0.0.1:${port}`, 'emotion-kiosk/soak/events'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((r) => sub.once('message', () => r()));

  const args = ['run', '--config', config, '--headless', '--events', 'none', '--source', o.clip, '--loop', '--summary-json', summaryFile, ...(o.fast ? [] : ['--realtime'])];
  const log = openSync(logFile, 'w');
  const kiosk = fork(cli, args, { execArgv: ['--expose-gc', '--import', path.join(here, 'soak-probe.mjs')], stdio: ['ignore', log, log, 'ipc'], env: kioskEnv });
  try {
    os.setPriority(kiosk.pid!, 10);
  } catch {
    /* not permitted: runs at normal priority */
  }
  const exited = new Promise<number | null>((r) => kiosk.once('exit', (code) => r(code)));
  console.log(`soak: ${o.minutes} min, ${path.basename(o.clip)} looped ${o.fast ? 'as fast as it decodes' : 'at its own rate (--realtime)'}, mosquitto on :${port} restarted every ${o.restartEveryS} s, samples every ${o.sampleEveryS} s (files in ${dir})`);
  console.log(`  allocator settings: ${allocWords}${o.unitEnv ? ' (device/emotion-kiosk.service' + (Object.keys(o.env).length ? ' and --env' : '') + ')' : ''}`);

  const started = Date.now();
  const end = started + o.minutes * 60_000;
  const samples: Sample[] = [];
  let nextSample = started;
  let nextRestart = started + o.restartEveryS * 1000;
  while (Date.now() < end && kiosk.exitCode === null) {
    const now = Date.now();
    if (now >= nextSample) {
      nextSample += o.sampleEveryS * 1000;
      const s = await ask<Omit<Sample, 'tS'>>(kiosk, 'sample');
      if (s) {
        samples.push({ tS: (Date.now() - started) / 1000, rss: s.rss, heapUsed: s.heapUsed, external: s.external, rssAnon: s.rssAnon, rssFile: s.rssFile, fds: s.fds });
        const last = samples.at(-1)!;
        if (samples.length % 6 === 1) console.log(`  t=${last.tS.toFixed(0)} s  rss ${(last.rss / 1e6).toFixed(1)} MB  heap ${(last.heapUsed / 1e6).toFixed(1)} MB  fds ${last.fds}  broker restarts ${broker.restarts}`);
      }
    }
    const snapAt = o.heapSnapshotsS[0];
    if (snapAt !== undefined && now >= started + snapAt * 1000) {
      o.heapSnapshotsS.shift();
      const file = path.join(dir, `heap-${snapAt}s.heapsnapshot`);
      const r = await ask<{ heapSnapshot: string }>(kiosk, { heapSnapshot: file }, 120_000);
      console.log(`  t=${((Date.now() - started) / 1000).toFixed(0)} s  heap snapshot ${r?.heapSnapshot ?? '(no answer)'}`);
    }
    if (now >= nextRestart) {
      nextRestart += o.restartEveryS * 1000;
      await broker.restart(2000);
    }
    await sleep(Math.max(10, Math.min(nextSample, nextRestart, end) - Date.now()));
  }
  const crashed = kiosk.exitCode !== null;

  // The end: the broker up, time for the outbox to drain, then a clean stop (SIGTERM: the kiosk flushes and writes its summary).
  if (!broker.proc) await broker.up();
  await sleep(5000);
  kiosk.kill('SIGTERM');
  const code = await exited;
  let delivered: { received: number; distinct: number; reconnects: number } | undefined;
  let generated = Number.NaN;
  try {
    generated = (JSON.parse(readFileSync(summaryFile, 'utf8')) as { events: number }).events;
  } catch {
    /* no summary: the kiosk died */
  }
  // Let the last messages reach the subscriber: wait until its count stops moving.
  for (let prev = -1, i = 0; i < 30; i++) {
    delivered = await ask(sub, 'report');
    if (delivered && delivered.distinct === prev && delivered.distinct >= generated) break;
    prev = delivered?.distinct ?? -1;
    await sleep(1000);
  }
  sub.send('stop');
  notify?.proc.kill();
  await broker.down();

  const warmS = o.warmupS;
  const after = samples.filter((s) => s.tS >= warmS);
  const mbPerHour = slope(after.map((s) => [s.tS / 3600, s.rss / 1e6] as const));
  const heap = samples.map((s) => s.heapUsed / 1e6);
  const first = samples[0];
  const last = samples.at(-1);
  console.log(`soak result (${((Date.now() - started) / 60_000).toFixed(1)} min, ${samples.length} samples, ${broker.restarts} broker restarts, kiosk exit ${crashed ? `EARLY (${code})` : code}; log ${logFile})`);
  console.log(`  RSS slope after ${warmS} s warm-up: ${mbPerHour.toFixed(2)} MB/hour  (RSS ${first ? (first.rss / 1e6).toFixed(1) : '?'} MB at start, ${after[0] ? (after[0].rss / 1e6).toFixed(1) : '?'} after warm-up, ${last ? (last.rss / 1e6).toFixed(1) : '?'} at the end; goal <= 1 MB/hour)`);
  const half = samples.filter((s) => s.tS >= (o.minutes * 60) / 2);
  const halfSlope = slope(half.map((s) => [s.tS / 3600, s.rss / 1e6] as const));
  console.log(`  RSS slope over the second half (${half.length} samples): ${halfSlope.toFixed(2)} MB/hour  (a slope that falls from the first figure to this one is warm-up still settling, not a leak)`);
  if (after.every((s) => s.rssAnon !== undefined && s.rssFile !== undefined)) {
    const part = (k: 'rssAnon' | 'rssFile') => slope(after.map((s) => [s.tS / 3600, s[k]! / 1e6] as const)).toFixed(2);
    console.log(`  of which anonymous memory (malloc, V8) ${part('rssAnon')} MB/hour, mapped files (library code) ${part('rssFile')} MB/hour`);
  }
  console.log(`  V8 heap used (after a full GC at each sample): min ${Math.min(...heap).toFixed(1)} MB, max ${Math.max(...heap).toFixed(1)} MB; after warm-up min ${Math.min(...after.map((s) => s.heapUsed / 1e6)).toFixed(1)}, max ${Math.max(...after.map((s) => s.heapUsed / 1e6)).toFixed(1)}`);
  // A sample also sees short-lived descriptors (the pipe of a systemd-notify child, a socket reconnecting to the
  // restarted broker): the ones that stay open are the least count of each minute.
  const fdFloor = (from: number, to: number) => Math.min(...samples.filter((s) => s.tS >= from && s.tS < to).map((s) => s.fds));
  const endS = last?.tS ?? 0;
  console.log(
    `  open fds (the least in a minute of samples; short-lived ones from child processes and reconnects aside): ${fdFloor(warmS, warmS + 60)} in the minute after warm-up, ${fdFloor(endS - 60, endS + 1)} in the last minute (single samples: ${first?.fds ?? '?'} at start, ${last?.fds ?? '?'} at the end, max ${Math.max(...samples.map((s) => s.fds))})`,
  );
  // Events the kiosk could not hand over before it stopped stay in its durable outbox (sent after its next start).
  const kept = Number(/(\d+) event\(s\) stay in the outbox/.exec(readFileSync(logFile, 'utf8'))?.[1] ?? 0);
  const missing = Number.isFinite(generated) && delivered ? generated - delivered.distinct - kept : Number.NaN;
  console.log(
    `  events: ${generated} generated, ${delivered?.distinct ?? '?'} delivered (distinct ids; ${delivered?.received ?? '?'} messages incl. QoS 1 duplicates), ${kept} still in the outbox at stop, ${Number.isNaN(missing) ? '?' : missing} missing`,
  );
  if (notify) console.log(`  systemd notify: ${notify.counts.READY} READY, ${notify.counts.WATCHDOG} WATCHDOG pings (every 1 s while frames arrive), ${notify.counts.STOPPING} STOPPING`);
  writeFileSync(path.join(dir, 'samples.json'), JSON.stringify({ options: o, allocator: allocEnv, samples, generated, delivered, restarts: broker.restarts }, null, 1));
  if (process.env.EK_SOAK_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  else console.log(`  kept ${dir}`);
}

/** A unix datagram listener for $NOTIFY_SOCKET (python3: Node cannot receive unix datagrams); counts the messages. */
async function notifyListener(socket: string): Promise<{ socket: string; proc: ChildProcess; counts: Record<'READY' | 'WATCHDOG' | 'STOPPING', number> } | undefined> {
  const code = [
    'import socket, sys, os, array',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); print("ready", flush=True)',
    'while True:',
    '    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(64))',
    '    for level, typ, cdata in anc:',
    '        if typ == socket.SCM_RIGHTS:',
    '            fds = array.array("i"); fds.frombytes(cdata[: len(cdata) - (len(cdata) % fds.itemsize)])',
    '            for fd in fds: os.close(fd)',
    '    print(data.decode("utf-8", "replace").split("\\n")[0].split("=")[0], flush=True)',
  ].join('\n');
  const proc = spawn('python3', ['-c', code, socket], { stdio: ['ignore', 'pipe', 'ignore'] });
  const counts = { READY: 0, WATCHDOG: 0, STOPPING: 0 };
  const ok = await new Promise<boolean>((resolve) => {
    proc.once('error', () => resolve(false));
    proc.once('exit', () => resolve(false));
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l === 'ready') resolve(true);
        else if (l in counts) counts[l as keyof typeof counts]++;
      }
    });
  });
  if (!ok) {
    console.log('  (no python3: the soak runs without a notify socket)');
    return undefined;
  }
  return { socket, proc, counts };
}
