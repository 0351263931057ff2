/**
 * The slow boot test (`npm run test:boot`, not part of `npm test`): the provisioning test's Debian 12 root booted
 * with systemd as PID 1 (`systemd-nspawn --boot`), device/setup.sh run inside the booted system as an operator would,
 * and the unit (device/emotion-kiosk.service) under a real systemd:
 *
 *   start:    setup.sh starts the unit; it becomes active only once READY=1 arrives (Type=notify: after the first
 *             frame), WATCHDOG=1 pings keep coming while frames arrive, `systemctl status` shows the STATUS= line
 *   hardening: as the service (its own mount namespace, its user), a write outside /var/lib/emotion-kiosk fails;
 *             the process has no capabilities, no-new-privileges and a seccomp filter;
 *             `systemd-analyze security emotion-kiosk.service` (printed) rates it "OK" or better
 *   stall:    a Pi camera (a fake `rpicam-vid`: test/capture/fake-camera.ts) that stops sending frames: the pings
 *             stop, systemd's watchdog kills the kiosk and Restart= brings it back; once the camera sends frames
 *             again the new process is ready
 *   reboot:   `systemctl reboot` inside (systemd-nspawn exits 133), booted again: the unit starts on its own
 *   display:  `setup.sh --kiosk display` inside: the unit runs cage with the kiosk in it (the shipped drop-in; a
 *             test-only drop-in gives cage wlroots' headless output, since the container has no screen, tty1 or
 *             input devices); READY=1 comes from inside cage; a grim screenshot of cage's output shows the
 *             overlay's face boxes; a SIGKILL of the kiosk ends cage and Restart=always brings both back; back to
 *             --kiosk headless at the end
 *
 * Camera: Megamind.avi played in real time, looping (no camera needed). MQTT: a mosquitto on the host on a free port
 * (the container shares the host's network). Needs root, debootstrap, systemd-nspawn (systemd-container), mosquitto,
 * and network to the Debian mirror and the npm registry; the debootstrap download is cached in
 * /var/cache/emotion-kiosk-debootstrap/. EK_KEEP_ROOT=1 keeps the root (and its journal) for inspection;
 * EK_BOOT_ROOT=<kept root> runs the tests against it again (minutes, not an hour), with the bundle staged there, or with
 * EK_BOOT_NEW_BUNDLE=1 with this checkout's bundle, which setup.sh then installs as an update.
 */
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { installFakeCamera, type FakeRun } from '../capture/fake-camera.js';
import { megamindJpegs } from '../capture/fixtures.js';
import { hasCommand, log, makeDebianRoot, makeTestBundle, provideHostNode, removeWork, setupCommand, stageForSetup, startBroker, UNTRAINED_MODEL, type Broker, type TestBundle } from './helpers/debian-root.js';
import { BootedRoot, NSPAWN_REBOOT_STATUS } from './helpers/nspawn.js';
import { findBoxes } from '../display/find-boxes.js';
import { cv } from '../../src/vision/index.js';

const UNIT = 'emotion-kiosk.service';
const CONFIG = '/etc/emotion-kiosk/config.yaml';
const DATA = '/var/lib/emotion-kiosk';
const FAKE_DIR = `${DATA}/fake-camera`;

// EK_BOOT_ROOT=<a root kept by an earlier run (EK_KEEP_ROOT=1)>: boot that one instead of making a new one (setup.sh
// then runs again inside, as an update would); for working on the checks without a 30-minute provisioning.
const reused = process.env.EK_BOOT_ROOT;
const work = reused ? path.dirname(path.resolve(reused)) : mkdtempSync('/var/tmp/ek-boot-');
const root = reused ? path.resolve(reused) : path.join(work, 'root');
const container = new BootedRoot(root, path.join(work, 'console.log'));
let bundle: TestBundle;
let broker: Broker | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The unit's properties, as `systemctl show` gives them. */
interface UnitState {
  ActiveState: string;
  SubState: string;
  Result: string;
  StatusText: string;
  MainPID: string;
  NRestarts: string;
  WatchdogTimestampMonotonic: string;
  ExecMainStartTimestampMonotonic: string;
  [key: string]: string;
}

function unitState(): UnitState {
  const props = ['ActiveState', 'SubState', 'Result', 'StatusText', 'MainPID', 'NRestarts', 'WatchdogUSec', 'WatchdogTimestampMonotonic', 'ExecMainStartTimestampMonotonic', 'UnitFileState'];
  const { out } = container.exec(['systemctl', 'show', UNIT, ...props.map((p) => `--property=${p}`)]);
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) as UnitState;
}

const brief = (s: UnitState) => `${s.ActiveState}/${s.SubState} (result ${s.Result}, MainPID ${s.MainPID}, restarts ${s.NRestarts}, status "${s.StatusText}")`;

/** Polls the unit until `ok` holds (or fails with the last state and the journal). */
async function waitFor(what: string, ok: (s: UnitState) => boolean, timeoutMs: number): Promise<UnitState> {
  const deadline = Date.now() + timeoutMs;
  let s = unitState();
  while (!ok(s)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the unit is ${brief(s)}\n${journal().slice(-4000)}`);
    await sleep(500);
    s = unitState();
  }
  return s;
}

function journal(args: string[] = []): string {
  return container.exec(['journalctl', '--no-pager', '-o', 'short-precise', '-u', UNIT, ...args], { allowFail: true }).out;
}

function status(): string {
  return container.exec(['systemctl', 'status', '--no-pager', '--lines=8', UNIT], { allowFail: true }).out;
}

const readyAndRunning = (s: UnitState) => s.ActiveState === 'active' && s.SubState === 'running' && s.StatusText.startsWith('running: ');

function setSource(source: string): void {
  const file = path.join(root, CONFIG);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^source: .*$/m);
  writeFileSync(file, text.replace(/^source: .*$/m, `source: ${JSON.stringify(source)}`));
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the boot test needs root (debootstrap, systemd-nspawn)');
  for (const tool of ['debootstrap', 'systemd-nspawn', 'nsenter', 'mosquitto']) assert.ok(hasCommand(tool), `${tool} is not installed (systemd-nspawn: apt-get install systemd-container)`);
  const seed = `model:\n  path: ${UNTRAINED_MODEL}\nmqtt:\n  deviceId: boot-test\ncamera:\n  realtime: true\n  loop: true\n`;
  const staged = () => readdirSync(path.join(root, 'root')).filter((f) => /^emotion-kiosk-.+\.tar\.gz$/.test(f));
  if (reused && process.env.EK_BOOT_NEW_BUNDLE !== '1') {
    // The bundle staged by that run (so setup.sh finds its release installed and changes nothing).
    const file = staged()[0];
    assert.ok(file, `no bundle in ${root}/root`);
    bundle = { file: path.join(root, 'root', file), id: /emotion-kiosk-(.+)\.tar\.gz$/.exec(file)![1]! };
  } else if (reused) {
    // EK_BOOT_NEW_BUNDLE=1: this checkout's bundle replaces the staged one; setup.sh installs it as an update.
    const fresh = await makeTestBundle(work);
    for (const f of staged()) rmSync(path.join(root, 'root', f));
    stageForSetup(root, fresh, seed);
    bundle = { file: path.join(root, 'root', path.basename(fresh.file)), id: fresh.id };
  } else {
    bundle = await makeTestBundle(work);
    makeDebianRoot(root);
    provideHostNode(root);
    stageForSetup(root, bundle, seed);
  }
  broker = await startBroker(work);
  const state = await container.boot();
  log(`--- the root booted with systemd as PID 1 (systemd-nspawn --boot; host pid of the container's init: ${container.initPid}): ${state} ---`);
  if (state !== 'running') log(container.exec(['systemctl', '--failed', '--no-pager'], { allowFail: true }).out);
});

after(async () => {
  broker?.stop();
  if (container.running && process.env.EK_KEEP_ROOT) log(`--- the unit's journal ---\n${journal().slice(-6000)}`);
  await container.stop();
  if (!reused) removeWork(work);
});

test('setup.sh inside the booted system starts the unit: READY after the first frame, watchdog pings, status line', { timeout: 60 * 60 * 1000 }, async () => {
  const started = Date.now();
  const setup = container.exec(setupCommand(bundle, ['--broker', `mqtt://127.0.0.1:${broker!.port}`, '--camera', '/srv/megamind.avi', '--config-seed', '/root/seed.yaml']), { allowFail: true });
  log(`--- setup.sh inside the booted root (${((Date.now() - started) / 1000).toFixed(0)} s, exit ${setup.code}) ---\n${setup.out.replace(/^.*(added \d+ packages|Setting up|Unpacking|Selecting|Preparing|Get:|Fetched|Processing triggers|Created symlink).*\n/gm, '')}`);
  assert.equal(setup.code, 0, 'setup.sh succeeded');
  if (!reused) assert.match(setup.out, /change +start emotion-kiosk\.service/, 'setup.sh started the unit (systemd is running)');

  // Type=notify: "active" only after READY=1, which the kiosk sends after its first processed frame.
  const ready = await waitFor('READY=1 (active/running with a STATUS= line)', readyAndRunning, 4 * 60_000);
  log(`--- after start: ${brief(ready)}, watchdog ${ready.WatchdogUSec}, ${ready.UnitFileState} ---\n${status()}`);
  assert.equal(ready.WatchdogUSec, '30s');
  assert.equal(ready.UnitFileState, 'enabled');
  assert.match(status(), /Status: "running: [\d.]+ fps, \d+ faces? in view, \d+ frames"/, 'systemctl status shows the STATUS= line');
  assert.match(journal(), /systemd notify on, watchdog pinged every 15 s while frames arrive/);

  // WATCHDOG=1: systemd records the time of the last ping; it moves on while frames arrive.
  const first = await waitFor('a first WATCHDOG=1', (s) => Number(s.WatchdogTimestampMonotonic) > 0, 60_000);
  const next = await waitFor('another WATCHDOG=1', (s) => Number(s.WatchdogTimestampMonotonic) > Number(first.WatchdogTimestampMonotonic), 60_000);
  assert.equal(next.MainPID, ready.MainPID, 'the same process, not a restart');
  assert.equal(next.NRestarts, '0');
  log(`watchdog pings at ${(Number(first.WatchdogTimestampMonotonic) / 1e6).toFixed(1)} s and ${(Number(next.WatchdogTimestampMonotonic) / 1e6).toFixed(1)} s (monotonic), status "${next.StatusText}"`);
});

test('the hardening is in force: as the service, a write outside /var/lib/emotion-kiosk fails', () => {
  const s = unitState();
  assert.ok(readyAndRunning(s), brief(s));
  const pid = s.MainPID;
  const procStatus = container.exec(['cat', `/proc/${pid}/status`]).out;
  const field = (name: string) => new RegExp(`^${name}:\\s+(.+)$`, 'm').exec(procStatus)?.[1]?.trim();
  const uid = field('Uid')!.split(/\s+/)[0]!;
  const gid = field('Gid')!.split(/\s+/)[0]!;
  log(`--- the kiosk process (pid ${pid} in the container) ---\n${['Uid', 'Gid', 'Groups', 'NoNewPrivs', 'Seccomp', 'CapEff', 'CapPrm', 'CapBnd', 'CapAmb'].map((f) => `${f}: ${field(f)?.replace(/\s+/g, ' ')}`).join('\n')}`);
  assert.equal(container.exec(['id', '-u', 'emotion-kiosk']).out.trim(), uid, 'runs as the service user');
  assert.equal(field('NoNewPrivs'), '1');
  assert.equal(field('Seccomp'), '2', 'a seccomp filter (SystemCallFilter=)');
  for (const cap of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) assert.equal(field(cap), '0000000000000000', `${cap}: no capabilities`);

  // Writes as the service's user, in the service's own mount namespace (ProtectSystem=strict, ProtectHome, PrivateTmp).
  const asService = (script: string) => container.exec(['nsenter', `--target=${pid}`, '--mount', `--setuid=${uid}`, `--setgid=${gid}`, '--', 'sh', '-c', script], { allowFail: true });
  // A directory the service user owns: without ProtectSystem= it could write there; with it the mount is read-only.
  container.exec(['install', '-d', '-o', 'emotion-kiosk', '-g', 'emotion-kiosk', '/srv/owned-by-the-service']);
  const results: string[] = [];
  const outside: [string, RegExp][] = [
    ['/srv/owned-by-the-service/probe', /Read-only file system/],
    ['/etc/emotion-kiosk/probe', /Read-only file system|Permission denied/],
    ['/opt/emotion-kiosk/current/probe', /Read-only file system|Permission denied/],
    ['/usr/local/bin/probe', /Read-only file system|Permission denied/],
    ['/run/probe', /Read-only file system|Permission denied/],
  ];
  for (const [target, why] of outside) {
    const r = asService(`echo x > ${target}`);
    results.push(`write ${target}: exit ${r.code} ${r.out.trim()}`);
    assert.notEqual(r.code, 0, `a write to ${target} as the service must fail`);
    assert.match(r.out, why, target);
  }
  const inside = asService(`echo x > ${DATA}/probe && cat ${DATA}/probe && rm ${DATA}/probe`);
  results.push(`write ${DATA}/probe: exit ${inside.code}`);
  assert.equal(inside.code, 0, `${DATA} is writable: ${inside.out}`);
  // /tmp, /var/tmp and /dev/shm are the service's own (PrivateTmp=yes, TemporaryFileSystem=/dev/shm): what it writes
  // there is invisible outside, and it sees nothing of the system's.
  container.exec(['sh', '-c', 'echo x > /tmp/system-side; echo x > /var/tmp/system-side; echo x > /dev/shm/system-side']);
  const scratch = asService('set -e; for d in /tmp /var/tmp /dev/shm; do echo x > $d/service-side; echo "$d: $(ls -A $d | tr "\\n" " ")"; done');
  results.push(`/tmp, /var/tmp, /dev/shm as the service: ${scratch.out.trim().replace(/\n/g, ' | ')}`);
  assert.equal(scratch.code, 0, scratch.out);
  assert.doesNotMatch(scratch.out, /system-side/);
  assert.equal(scratch.out.match(/service-side/g)?.length, 3, 'the service can write its own /tmp, /var/tmp and /dev/shm');
  for (const d of ['/tmp', '/var/tmp', '/dev/shm']) assert.ok(container.exec(['test', '!', '-e', `${d}/service-side`], { allowFail: true }).code === 0, `${d}/service-side stays private`);
  const mounts = container.exec(['findmnt', '-N', pid, '-n', '-o', 'TARGET,FSTYPE,OPTIONS', '--list'], { allowFail: true }).out;
  const mountOf = (target: string) => mounts.split('\n').filter((l) => l.split(/\s+/)[0] === target).pop() ?? '';
  for (const t of ['/', '/root', '/home', '/tmp', '/var/tmp', '/dev/shm', DATA]) results.push(`mount ${t}: ${mountOf(t) || '(none)'}`);
  assert.match(mountOf('/'), /\sro[,\s]/, 'the root is read-only for the service');
  assert.match(mountOf(DATA), /\srw[,\s]/, 'the data dir is writable');
  assert.ok(mountOf('/root') !== '' && mountOf('/home') !== '', 'ProtectHome=: /root and /home are replaced');
  log(`--- as the service (uid ${uid}, its mount namespace) ---\n${results.join('\n')}`);
  log(`--- resource limits: ${container.exec(['systemctl', 'show', UNIT, '--property=MemoryHigh', '--property=MemoryMax', '--property=TasksMax', '--property=MemoryCurrent', '--property=TasksCurrent', '--property=DevicePolicy']).out.trim().replace(/\n/g, ', ')}`);
});

test('systemd-analyze security emotion-kiosk.service: "OK" or better', () => {
  const r = container.exec(['systemd-analyze', 'security', '--no-pager', UNIT], { allowFail: true });
  log(`--- systemd-analyze security ${UNIT} (inside the booted root, exit ${r.code}) ---\n${r.out}`);
  const m = /Overall exposure level for emotion-kiosk\.service: ([\d.]+) (\S+)/.exec(r.out);
  assert.ok(m, 'an overall exposure level');
  assert.ok(Number(m[1]) <= 2, `exposure ${m[1]} ${m[2]}: want "OK" or better (<= 2)`);
});

test('a camera that stops sending frames: the watchdog kills the kiosk and systemd restarts it', { timeout: 15 * 60 * 1000 }, async () => {
  // A Pi camera (source: rpicam) whose `rpicam-vid` is the fake from test/capture/fake-camera.ts. It keeps its plan
  // and run counter next to itself, so it lives in the data dir (the only place the service may write) and is
  // linked into /usr/local/bin, on the service's PATH.
  const jpegs = megamindJpegs(30, 640, 480);
  const plan = (run: FakeRun) => {
    const fake = installFakeCamera(['rpicam-vid'], jpegs, [run]);
    return { fake, file: path.join(fake.dir, 'plan.json') };
  };
  const working = plan({ frames: Infinity, intervalMs: 66 });
  rmSync(path.join(root, FAKE_DIR), { recursive: true, force: true });
  cpSync(working.fake.dir, path.join(root, FAKE_DIR), { recursive: true });
  working.fake.cleanup();
  container.exec(['chown', '-R', 'emotion-kiosk:emotion-kiosk', FAKE_DIR]);
  rmSync(path.join(root, 'usr/local/bin/rpicam-vid'), { force: true });
  symlinkSync(`${FAKE_DIR}/rpicam-vid`, path.join(root, 'usr/local/bin/rpicam-vid'));
  setSource('rpicam');
  container.exec(['systemctl', 'restart', UNIT]);
  const before = await waitFor('the kiosk ready on the (fake) Pi camera', readyAndRunning, 3 * 60_000);
  log(`--- on the Pi camera: ${brief(before)}`);

  // The camera stops: every run of rpicam-vid from now on sends nothing, and the running one is stopped (SIGSTOP).
  const stalled = plan({ frames: 0, then: 'stall' });
  copyFileSync(stalled.file, path.join(root, FAKE_DIR, 'plan.json'));
  stalled.fake.cleanup();
  const runs = Number(readFileSync(path.join(root, FAKE_DIR, 'runs'), 'utf8'));
  const cameraPid = readFileSync(path.join(root, FAKE_DIR, `pid-${runs - 1}`), 'utf8').trim();
  container.exec(['sh', '-c', `kill -STOP ${Number(cameraPid)}`]);
  log(`camera stopped (SIGSTOP to rpicam-vid, pid ${cameraPid} in the container)`);

  const stallStatus = await waitFor('the STATUS= line to say stalled', (s) => s.StatusText.startsWith('stalled'), 90_000);
  log(`--- while stalled: ${brief(stallStatus)} ---\n${status()}`);
  assert.equal(stallStatus.ActiveState, 'active', 'still running while the watchdog waits');

  // The watchdog fires (no WATCHDOG=1 for WatchdogSec): systemd kills the kiosk, result "watchdog", then restarts.
  const killed = await waitFor('the watchdog kill', (s) => s.Result === 'watchdog' || Number(s.NRestarts) > 0, 2 * 60_000);
  log(`--- after the stall: ${brief(killed)} ---\n${status()}`);
  const restarted = await waitFor('the restart', (s) => Number(s.NRestarts) >= 1, 2 * 60_000);
  log(`--- restarted by systemd: ${brief(restarted)}`);
  const j = journal();
  for (const line of [/Watchdog timeout \(limit 30s\)!/, /Killing process \d+ \(node\) with signal SIGABRT/, /Failed with result 'watchdog'/, /Scheduled restart job, restart counter is at 1/]) {
    assert.ok(line.test(j), `the journal says ${line}`);
  }

  // The camera works again: the restarted kiosk (a new process) gets frames and is ready again.
  const back = plan({ frames: Infinity, intervalMs: 66 });
  copyFileSync(back.file, path.join(root, FAKE_DIR, 'plan.json'));
  back.fake.cleanup();
  const again = await waitFor('the restarted kiosk ready again', (s) => readyAndRunning(s) && Number(s.NRestarts) >= 1 && s.MainPID !== before.MainPID, 5 * 60_000);
  log(`--- after the restart, camera back: ${brief(again)} ---\n${status()}`);
  log(`--- the unit's journal around the stall ---\n${j.split('\n').filter((l) => /Watchdog|watchdog|restart|stalled|Started|Starting|Main process|Killing|camera|rpicam/i.test(l)).slice(-30).join('\n')}`);
});

test('a reboot of the container starts the unit again', { timeout: 15 * 60 * 1000 }, async () => {
  setSource('/srv/megamind.avi');
  const bootsBefore = container.exec(['journalctl', '--list-boots', '--no-pager'], { allowFail: true }).out.trim().split('\n').length;
  container.exec(['systemctl', 'reboot'], { allowFail: true });
  const code = await container.exited();
  assert.equal(code, NSPAWN_REBOOT_STATUS, `systemd-nspawn exits ${NSPAWN_REBOOT_STATUS} on a reboot inside`);
  const state = await container.boot();
  log(`--- rebooted (systemd-nspawn exited ${code}, booted again): ${state} ---`);
  const s = await waitFor('the unit active after the reboot', readyAndRunning, 4 * 60_000);
  log(`--- after the reboot: ${brief(s)} ---\n${status()}`);
  assert.equal(s.NRestarts, '0', 'started by the boot, not by a restart');
  assert.match(journal(['-b', '0']), /Started emotion-kiosk\.service/);
  const bootsAfter = container.exec(['journalctl', '--list-boots', '--no-pager'], { allowFail: true }).out.trim().split('\n').length;
  log(`journal boots: ${bootsBefore} before, ${bootsAfter} after`);
});

test('--kiosk display: cage under systemd shows the camera view with its face boxes; a killed kiosk comes back', { timeout: 60 * 60 * 1000 }, async () => {
  setSource('/srv/megamind.avi');
  const started = Date.now();
  // What this container lacks, and only that: a screen (DRM), tty1 (a VT) and input devices. cage draws on wlroots'
  // headless output with the pixman renderer (no seat needed) and has no tty. In place before setup.sh, which
  // starts the unit. Everything else is the shipped drop-in.
  const dropInDir = path.join(root, 'etc/systemd/system/emotion-kiosk.service.d');
  mkdirSync(dropInDir, { recursive: true });
  const testDropIn = path.join(dropInDir, '90-test-no-screen.conf');
  writeFileSync(
    testDropIn,
    ['[Service]', 'Environment=WLR_BACKENDS=headless WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1', 'StandardInput=null', 'TTYReset=no', 'TTYVHangup=no', 'TTYVTDisallocate=no', ''].join('\n'),
  );
  container.exec(['systemctl', 'daemon-reload']);
  try {
    if (container.exec(['sh', '-c', 'command -v grim'], { allowFail: true }).code !== 0) container.exec(['apt-get', 'install', '-y', '--no-install-recommends', 'grim'], { timeoutMs: 10 * 60_000 });
    const setup = container.exec(setupCommand(bundle, ['--kiosk', 'display', '--broker', `mqtt://127.0.0.1:${broker!.port}`, '--camera', '/srv/megamind.avi']), { allowFail: true });
    log(`--- setup.sh --kiosk display (${((Date.now() - started) / 1000).toFixed(0)} s, exit ${setup.code}) ---\n${setup.out.replace(/^.*(Setting up|Unpacking|Selecting|Preparing|Get:|Fetched|Processing triggers).*\n/gm, '')}`);
    if (setup.code !== 0) log(`--- the unit's journal ---\n${journal(['--since', `@${Math.floor(started / 1000)}`]).slice(-5000)}`);
    assert.equal(setup.code, 0, 'setup.sh --kiosk display succeeded');
    assert.ok(readdirSync(dropInDir).includes('30-display.conf'), 'the display drop-in is installed');
    const ready = await waitFor('the kiosk ready inside cage', readyAndRunning, 4 * 60_000);
    const mainComm = container.exec(['ps', '-o', 'comm=', '-p', ready.MainPID]).out.trim();
    log(`--- under cage: ${brief(ready)}, main process ${mainComm} ---\n${status()}`);
    assert.equal(mainComm, 'cage', "the unit's main process is cage; the kiosk, its child, sent READY=1");
    // Both stay in the unit's cgroup (a pam_systemd session would move them to user.slice, and systemd would drop
    // the kiosk's READY=1: the first version of the drop-in never started here).
    for (const pid of container.exec(['pgrep', '-f', '^(/usr/bin/cage|node /usr/local/bin/emotion-kiosk)']).out.trim().split('\n')) {
      const cgroup = container.exec(['cat', `/proc/${pid}/cgroup`]).out;
      assert.match(cgroup, /^\d+:name=systemd:\/system\.slice\/emotion-kiosk\.service$|^0::\/system\.slice\/emotion-kiosk\.service$/m, `pid ${pid} in the unit's cgroup:\n${cgroup}`);
    }

    // Screenshots of cage's output (as the service user, through the unit's runtime directory) until boxes show.
    // (/run is the container's own tmpfs: the screenshot goes to the data dir, which the host sees in the root.)
    const runtimeFiles = container.exec(['ls', '/run/emotion-kiosk']).out.trim().split('\n');
    const socket = runtimeFiles.find((f) => /^wayland-\d+$/.test(f));
    assert.ok(socket, `cage's Wayland socket in /run/emotion-kiosk (${runtimeFiles.join(', ')})`);
    const shot = async () => {
      container.exec(['runuser', '-u', 'emotion-kiosk', '--', 'env', 'XDG_RUNTIME_DIR=/run/emotion-kiosk', `WAYLAND_DISPLAY=${socket}`, 'grim', `${DATA}/screenshot.png`]);
      const img = cv.imread(path.join(root, DATA, 'screenshot.png'));
      return { img, boxes: findBoxes(img) };
    };
    let found: ReturnType<typeof findBoxes> = [];
    for (let i = 0; i < 30 && found.length === 0; i++) {
      const { img, boxes } = await shot();
      found = boxes;
      if (i === 0) log(`screenshot ${img.cols}x${img.rows}, mean ${img.mean().w.toFixed(1)}`);
      if (!found.length) await sleep(1000);
    }
    log(`face boxes on cage's output: ${found.map((b) => `${b.emotion} ${b.width}x${b.height} at ${b.x},${b.y}`).join('; ')}`);
    assert.ok(found.length > 0, 'the overlay draws face boxes on the screen');

    // The kiosk killed: cage ends with its only client, Restart=always starts both again (a new cage, a new kiosk).
    const kiosk = container.exec(['pgrep', '-f', '-P', ready.MainPID, 'emotion-kiosk']).out.trim().split('\n')[0]!;
    container.exec(['sh', '-c', `kill -KILL ${Number(kiosk)}`]);
    log(`SIGKILL to the kiosk (pid ${kiosk} in the container)`);
    const again = await waitFor('cage and the kiosk started again', (s) => readyAndRunning(s) && Number(s.NRestarts) >= Number(ready.NRestarts) + 1 && s.MainPID !== ready.MainPID, 4 * 60_000);
    log(`--- after the kill: ${brief(again)} ---\n${status()}`);
    assert.doesNotMatch(journal(['--since', `@${Math.floor(started / 1000)}`]), /pkill: option requires an argument/, 'ExecStop= ran quietly after cage had ended');
  } finally {
    rmSync(testDropIn, { force: true });
    const back = container.exec(setupCommand(bundle, ['--kiosk', 'headless', '--broker', `mqtt://127.0.0.1:${broker!.port}`, '--camera', '/srv/megamind.avi']), { allowFail: true });
    log(`--- back to --kiosk headless: setup.sh exit ${back.code}`);
  }
  await waitFor('the headless kiosk ready again', readyAndRunning, 4 * 60_000);
  assert.ok(!readdirSync(dropInDir).includes('30-display.conf'), 'setup.sh --kiosk headless removed the display drop-in');
});
