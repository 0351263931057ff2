/**
 * The systemd watchdog (issue 11): READY=1 after the first processed frame, WATCHDOG=1 only while frames keep arriving,
 * STATUS= with fps and faces. The protocol is tested end to end against a unix datagram socket the test creates (a
 * small python3 listener: Node cannot receive unix datagrams) as $NOTIFY_SOCKET, with the real `systemd-notify`.
 * The stall is simulated by no longer feeding frames: the pings must stop. Nothing here asserts a duration: the
 * phases are counted in timer ticks.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import type { FrameReport } from '../../src/events/types.js';
import { notifySettingsFromEnv, systemdNotifySender, WatchdogPolicy, WatchdogSink } from '../../src/system/watchdog.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';

const LISTENER = String.raw`
import socket, sys, os, json, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"ready": True}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(64))
    for level, typ, cdata in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(cdata[: len(cdata) - (len(cdata) % fds.itemsize)])
            for fd in fds: os.close(fd)  # systemd-notify's BARRIER=1 waits until its fd is closed
    print(json.dumps({"text": data.decode("utf-8", "replace")}), flush=True)
`;

const haveTools = spawnSync('python3', ['-c', 'import socket; socket.AF_UNIX'], { stdio: 'ignore' }).status === 0 && existsSync('/usr/bin/systemd-notify');

class NotifyListener {
  readonly messages: string[] = [];
  private constructor(
    readonly socket: string,
    private readonly proc: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(): Promise<NotifyListener> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ek-notify-'));
    const socket = path.join(dir, 'notify.sock');
    const proc = spawn('python3', ['-c', LISTENER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    const l = new NotifyListener(socket, proc, dir);
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const m = JSON.parse(line) as { ready?: boolean; text?: string };
        if (m.ready) resolve();
        else if (m.text !== undefined && m.text !== 'BARRIER=1') l.messages.push(m.text);
      });
    });
    return l;
  }

  async waitFor(pred: (msgs: string[]) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!pred(this.messages)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  stop(): void {
    this.proc.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const report = (fps: number, faces: number): FrameReport => ({
  frameIndex: 0,
  frameTimestamp: 0,
  faces: Array.from({ length: faces }, (_, i) => ({ faceId: i, box: { x: 0, y: 0, width: 1, height: 1 }, emotion: 'happy' as const, confidence: 1, scores: {} as FrameReport['faces'][number]['scores'], firstSeen: 0 })),
  detections: faces,
  captureMs: 1,
  detectMs: 1,
  classifyMs: 1,
  fps,
});

test('settings from the environment: no socket, no notify; WATCHDOG_USEC gives half the period; WATCHDOG_PID must be us', () => {
  assert.deepEqual(notifySettingsFromEnv({}, 42), { socket: undefined, pingIntervalMs: undefined });
  assert.deepEqual(notifySettingsFromEnv({ NOTIFY_SOCKET: '/run/n' }, 42), { socket: '/run/n', pingIntervalMs: undefined });
  assert.deepEqual(notifySettingsFromEnv({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000' }, 42), { socket: '/run/n', pingIntervalMs: 15_000 });
  assert.deepEqual(notifySettingsFromEnv({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42).pingIntervalMs, 15_000);
  assert.equal(notifySettingsFromEnv({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42).pingIntervalMs, undefined);
});

test('the policy: nothing before the first frame, READY once, a ping per tick only when frames came, STATUS when stalled', () => {
  const p = new WatchdogPolicy();
  assert.deepEqual(p.tick(0), [], 'not ready: no ping, no status');
  assert.deepEqual(p.onFrame(10, { fps: 0, faces: 0 }), ['READY=1', 'STATUS=running: 0.0 fps, 0 faces in view, 1 frames']);
  assert.deepEqual(p.onFrame(20, { fps: 14.96, faces: 1 }), []);
  assert.deepEqual(p.tick(1000), ['WATCHDOG=1', 'STATUS=running: 15.0 fps, 1 face in view, 2 frames']);
  assert.deepEqual(p.tick(16_000), ['STATUS=stalled: no frame for 16 s (watchdog not pinged)']);
  assert.deepEqual(p.tick(31_000), ['STATUS=stalled: no frame for 31 s (watchdog not pinged)']);
  p.onFrame(31_500, { fps: 2, faces: 0 });
  assert.deepEqual(p.tick(32_000)[0], 'WATCHDOG=1', 'pings again once frames come back');
});

test('end to end over $NOTIFY_SOCKET with systemd-notify: READY after the first frame, pings while frames arrive, none after they stop', { skip: haveTools ? false : 'needs python3 and /usr/bin/systemd-notify' }, async () => {
  const listener = await NotifyListener.start();
  let sink: WatchdogSink | undefined;
  let feeding: NodeJS.Timeout | undefined;
  try {
    const real = systemdNotifySender(listener.socket, createLogger('warn', 'test'));
    let phase: 'before' | 'running' | 'stalled' = 'before';
    const sent: Array<{ phase: string; text: string }> = [];
    const send = async (a: string[]) => {
      sent.push({ phase, text: a.join('\n') });
      await real(a);
    };
    sink = new WatchdogSink({ settings: { socket: listener.socket, pingIntervalMs: 60 }, logger: silentLogger, send });
    await sink.start();

    // Before the first frame: ticks pass, nothing is sent (no READY, no WATCHDOG).
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sent.length, 0, JSON.stringify(sent));

    phase = 'running';
    let fed = 0;
    feeding = setInterval(() => sink!.onFrame(report(15, fed++ % 3)), 10);
    await listener.waitFor((m) => m.filter((t) => t.startsWith('WATCHDOG=1')).length >= 4, 'four watchdog pings while frames arrive');
    assert.match(listener.messages[0]!, /^READY=1\nSTATUS=running: 15\.0 fps, 0 faces in view, 1 frames$/);
    assert.equal(listener.messages.filter((t) => t.includes('READY=1')).length, 1, 'READY once');
    for (const t of listener.messages.slice(1)) assert.match(t, /^WATCHDOG=1\nSTATUS=running: 15\.0 fps, \d face(s)? in view, \d+ frames$/);

    // The stall: frames stop. At most the tick already due reports the last frames; after it only "stalled".
    clearInterval(feeding);
    phase = 'stalled';
    await listener.waitFor(() => sent.filter((s) => s.phase === 'stalled' && s.text.startsWith('STATUS=stalled')).length >= 4, 'four ticks of stall');
    const stalled = sent.filter((s) => s.phase === 'stalled');
    const firstStall = stalled.findIndex((s) => s.text.startsWith('STATUS=stalled'));
    assert.ok(firstStall <= 1, JSON.stringify(stalled));
    for (const s of stalled.slice(firstStall)) assert.match(s.text, /^STATUS=stalled: no frame for \d+ s \(watchdog not pinged\)$/, 'no ping after the frames stopped');
    // Everything sent reached the socket, in order, and the last word is STOPPING.
    await sink.stop();
    await listener.waitFor((m) => m.length === sent.length, 'every message on the socket');
    assert.deepEqual(listener.messages, sent.map((s) => s.text));
    assert.equal(listener.messages.at(-1), 'STOPPING=1\nSTATUS=stopping');
    assert.ok(!listener.messages.slice(listener.messages.indexOf(stalled[firstStall]!.text)).some((t) => t.includes('WATCHDOG=1')), 'no WATCHDOG=1 on the socket after the stall began');
    sink = undefined;
  } finally {
    clearInterval(feeding);
    await sink?.stop();
    listener.stop();
  }
});

test('emotion-kiosk run under a notify socket: READY=1, watchdog pings while the clip plays, STOPPING at the end', { skip: haveTools ? false : 'needs python3 and /usr/bin/systemd-notify' }, async () => {
  const { megamindVideo, repoRoot } = await import('../helpers/fixtures.js');
  const listener = await NotifyListener.start();
  try {
    const args = ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'run', '--headless', '--broker', 'none', '--events', 'none', '--source', megamindVideo, '--realtime', '--max-frames', '72'];
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '400000', EMOTION_KIOSK_CONFIG: '' } });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 0, stderr);
    await listener.waitFor((m) => m.at(-1)?.startsWith('STOPPING=1') ?? false, 'STOPPING');
    const m = listener.messages;
    assert.match(m[0]!, /^READY=1\nSTATUS=running: /);
    assert.ok(m.some((t) => /^WATCHDOG=1\nSTATUS=running: [\d.]+ fps, \d+ faces? in view, \d+ frames$/.test(t)), JSON.stringify(m));
    assert.match(stderr, /systemd notify on, watchdog pinged every 0\.2 s while frames arrive/);
  } finally {
    listener.stop();
  }
});
