/**
 * The camera view at boot (`setup.sh --kiosk display`), for real: the drop-in's own ExecStart= (cage -> the kiosk,
 * `emotion-kiosk run --fullscreen` with the device's config template) on cage's headless backend, the kiosk reading
 * Megamind.avi as its camera, and screenshots of the output with grim: the overlay's boxes in their colours, the
 * frame filling the output, nothing but black beside it; READY=1 and WATCHDOG=1 reaching the unit's notify socket
 * from inside cage; a kill of the kiosk ending the compositor session (the unit's main process: Restart=always
 * starts it again, as the second start here does); a stop through the drop-in's ExecStop=, the kiosk first.
 * Needs cage, xwayland, grim (skipped with the reason without).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { megamindVideo, repoRoot } from '../helpers/fixtures.js';
import type { Mat } from '../../src/vision/opencv.js';
import { findBoxes, regionStats, type FoundBox } from './find-boxes.js';
import { asServiceUser, cageMissing, cageVersion, childPids, commandLine, execStart, execStopScript, grim, rssMb, startCage, userDir, xwaylandPid, type Cage } from './wayland.js';

const execFileAsync = promisify(execFile);
const skip = cageMissing();
const dropIn = readFileSync(path.join(repoRoot, 'device', 'emotion-kiosk-display.conf'), 'utf8');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-cage-'));
chmodSync(tmp, 0o755);
const runBase = path.join(tmp, 'run'); // systemd's %t (/run for a system service)
const runtimeDir = path.join(runBase, 'emotion-kiosk'); // RuntimeDirectory=emotion-kiosk
const notifySocket = path.join(tmp, 'notify.sock');
const OUTPUT = { width: 1280, height: 720 }; // wlroots' headless output
const FRAME = { width: 720, height: 528 }; // Megamind.avi
let notifier: ChildProcess | undefined;
let notifyLog = '';
const cages: Cage[] = [];

/** The drop-in's command with this checkout for /usr/local/bin/emotion-kiosk and this test's config and %t. */
function kioskCommand(configFile: string): string[] {
  return execStart(dropIn).flatMap((w) => {
    if (w === '/usr/local/bin/emotion-kiosk') return [process.execPath, '--import', 'tsx', path.join(repoRoot, 'src', 'cli', 'main.ts')];
    if (w === '/etc/emotion-kiosk/config.yaml') return [configFile];
    return [w.replaceAll('%t', runBase)];
  });
}

/** systemd's notify socket, played by a Python datagram socket that prints each message on a line. */
async function startNotifySocket(): Promise<void> {
  const py = [
    'import socket, sys, os',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    `s.bind(${JSON.stringify(notifySocket)})`,
    `os.chmod(${JSON.stringify(notifySocket)}, 0o777)`,
    'print("LISTENING", flush=True)',
    'while True:',
    '    m = s.recv(4096)', // systemd-notify's barrier fd is dropped (closed) with the ancillary data
    '    print(m.decode(errors="replace").replace("\\n", " | "), flush=True)',
  ].join('\n');
  notifier = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
  notifier.stdout!.on('data', (d: Buffer) => (notifyLog += d.toString()));
  for (let i = 0; i < 200 && !notifyLog.includes('LISTENING'); i++) await sleep(25);
  assert.ok(notifyLog.includes('LISTENING'), 'the notify socket listens');
}

/** Screenshots until the overlay's boxes are on screen (the kiosk is starting: model, camera, first faces). */
async function shotWithBoxes(cage: Cage, waitS = 120): Promise<{ shot: Mat; boxes: FoundBox[] }> {
  let last: Mat | undefined;
  let tries = 0;
  for (const end = Date.now() + waitS * 1000; Date.now() < end; tries++) {
    if (cage.process.exitCode !== null || cage.process.signalCode !== null) break;
    last = await grim(cage);
    const boxes = findBoxes(last);
    if (boxes.length > 0) return { shot: last, boxes };
    await sleep(1000);
  }
  assert.fail(`no face box on screen in ${waitS} s (${tries} screenshots, the last ${last?.cols}x${last?.rows}); cage and the kiosk said:\n${cage.output()}`);
}

function kioskPid(cage: Cage): number | undefined {
  return childPids(cage.process.pid!).find((p) => commandLine(p).includes('src/cli/main.ts'));
}

before(async () => {
  if (skip) return;
  // The device's config template, as setup.sh writes it (display.enabled: false: --fullscreen turns the window on),
  // with Megamind as the camera.
  const config = parse(readFileSync(path.join(repoRoot, 'device', 'config.template.yaml'), 'utf8'));
  config.source = megamindVideo;
  config.camera = { ...config.camera, realtime: true, loop: true };
  config.mqtt = { ...config.mqtt, broker: 'none' };
  config.dataDir = userDir(path.join(tmp, 'data'));
  writeFileSync(path.join(tmp, 'config.yaml'), stringify(config));
  mkdirSync(runBase, { mode: 0o755 });
  await startNotifySocket();
});

after(async () => {
  for (const c of cages) await c.stop();
  notifier?.kill();
  rmSync(tmp, { recursive: true, force: true });
});

test('--kiosk display: the kiosk full screen inside cage, its boxes on screen; READY and the watchdog reach systemd; a killed kiosk ends the session and a restart brings the view back', { skip }, async (t) => {
  const argv = kioskCommand(path.join(tmp, 'config.yaml'));
  t.diagnostic(`${cageVersion()}: ${argv.join(' ')}`);
  // What systemd gives the main process: the notify socket, the watchdog, and WATCHDOG_PID = the main PID (cage's;
  // here any PID that is not the kiosk's).
  const systemdEnv = { NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: '4000000', WATCHDOG_PID: '1' };
  const started = Date.now();
  userDir(runtimeDir);
  const cage = await startCage(argv, runtimeDir, systemdEnv, repoRoot);
  cages.push(cage);

  const { shot, boxes } = await shotWithBoxes(cage);
  t.diagnostic(`boxes on screen ${((Date.now() - started) / 1000).toFixed(1)} s after start: ${boxes.map((b) => `${b.emotion} ${b.width}x${b.height} at ${b.x},${b.y}`).join('; ')}`);
  assert.deepEqual([shot.cols, shot.rows], [OUTPUT.width, OUTPUT.height], 'the screenshot is the whole output');
  // Full screen: the frame scaled to the output's height, centred; black bars beside it and nothing else there.
  const scale = OUTPUT.height / FRAME.height;
  const left = Math.round((OUTPUT.width - FRAME.width * scale) / 2);
  const right = OUTPUT.width - left;
  for (const [x1, x2] of [
    [0, left - 3],
    [right + 3, OUTPUT.width],
  ] as const) {
    const bar = regionStats(shot, x1, 0, x2 - x1, OUTPUT.height);
    assert.ok(bar.max <= 8, `columns ${x1}-${x2} beside the frame are black (brightest ${bar.max}): nothing stale from an earlier frame`);
  }
  for (const [name, y] of [
    ['top', 0],
    ['bottom', OUTPUT.height - 10],
  ] as const) {
    const rows = regionStats(shot, left + 3, y, right - left - 6, 10);
    assert.ok(rows.std > 2, `the frame reaches the output's ${name} edge (${name} rows: std ${rows.std.toFixed(1)})`);
  }
  for (const b of boxes) assert.ok(b.x >= left - 3 && b.x + b.width <= right + 3, `the ${b.emotion} box is on the frame`);

  // The memory the drop-in's MemoryMax= is sized for.
  const kiosk = kioskPid(cage);
  assert.ok(kiosk, `the kiosk runs as cage's child: ${childPids(cage.process.pid!).map(commandLine).join('; ')}`);
  const xwayland = xwaylandPid(cage);
  t.diagnostic(`RSS MB: cage ${rssMb(cage.process.pid!)?.toFixed(0)}, Xwayland ${xwayland ? rssMb(xwayland)?.toFixed(0) : '-'}, kiosk ${rssMb(kiosk)?.toFixed(0)}`);

  // READY=1 once the first frame went through; WATCHDOG=1 while frames flow (only because the drop-in unsets
  // WATCHDOG_PID: the kiosk would otherwise take the watchdog for cage's and never ping).
  for (let i = 0; i < 100 && !/WATCHDOG=1/.test(notifyLog); i++) await sleep(100);
  assert.match(notifyLog, /READY=1/, notifyLog);
  assert.match(notifyLog, /WATCHDOG=1/, `the kiosk pings the watchdog from inside cage:\n${notifyLog}`);
  assert.match(notifyLog, /STATUS=.*fps/, notifyLog);

  // The kiosk dies: cage (the unit's main process) ends with it, so systemd sees the service end and restarts it.
  process.kill(kiosk, 'SIGKILL');
  const ended = await Promise.race([cage.exited, sleep(30_000).then(() => undefined)]);
  assert.ok(ended, 'cage ends when the kiosk is killed');
  t.diagnostic(`cage ended after the kill: code ${ended.code}, signal ${ended.signal}`);

  // The restart: systemd removes and recreates RuntimeDirectory= and runs the same ExecStart= again.
  rmSync(runtimeDir, { recursive: true, force: true });
  userDir(runtimeDir);
  notifyLog = notifyLog.replace(/READY=1/g, 'ready(before the restart)');
  const again = await startCage(argv, runtimeDir, systemdEnv, repoRoot);
  cages.push(again);
  const second = await shotWithBoxes(again);
  assert.ok(second.boxes.length > 0, 'the camera view is back after the restart');
  for (let i = 0; i < 100 && !/READY=1/.test(notifyLog); i++) await sleep(100);
  assert.match(notifyLog, /READY=1/, 'the restarted kiosk is ready again');

  // systemctl stop: the drop-in's ExecStop= (as the service user, $MAINPID = cage's) stops the kiosk first, which
  // shuts down in order (its summary says why it stopped); cage then ends on its own, with 0.
  await execFileAsync('sh', ['-c', execStopScript(dropIn)], { env: { ...process.env, MAINPID: String(again.process.pid) }, timeout: 30_000, ...asServiceUser() });
  const stopped = await Promise.race([again.exited, sleep(20_000).then(() => undefined)]);
  assert.deepEqual(stopped, { code: 0, signal: null }, `cage ended by itself after the kiosk:\n${again.output().slice(-2000)}`);
  assert.match(again.output(), /SIGTERM: stopping[\s\S]*\(stopped: signal\)/, 'the kiosk stopped in order');
  assert.doesNotMatch(again.output(), /X11 connection broke/);
  t.diagnostic(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
