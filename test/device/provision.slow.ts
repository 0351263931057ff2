/**
 * The slow provisioning test (`npm run test:provision`, not part of `npm test`): device/setup.sh for real inside a
 * throwaway Debian 12 root made by debootstrap from Debian's packages, with a bundle made by scripts/bundle.ts.
 *
 *   1st run: packages installed, user, config, unit, app in /opt (the OpenCV addon compiled in the chroot against
 *            the chroot's OpenCV), `emotion-kiosk doctor` runs inside and reads a frame through that addon
 *   2nd run: changes nothing and says so (file tree snapshot identical)
 *   operator edits survive a re-run; new keys are added
 *   --uninstall: app, unit, user gone; config and the event outbox kept
 *
 * Needs root (chroot, debootstrap) and network to the Debian mirror and the npm registry. Debian 12's nodejs is
 * 18, so the test pre-provides the host's Node (>= 20) in /usr/local inside the root, as an operator could.
 * EMOTION_KIOSK_DEBOOTSTRAP_TARBALL=<file from debootstrap --make-tarball> skips the download; EK_KEEP_ROOT=1 keeps
 * the root for inspection. Only /proc is mounted into the root, and it is unmounted before anything is deleted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../helpers/fixtures.js';
import { hasCommand, log, makeDebianRoot, makeTestBundle, provideHostNode, removeWork, ROOT_ENV, setupCommand, sh, stageForSetup, startBroker, UNTRAINED_MODEL, type Broker, type TestBundle } from './helpers/debian-root.js';

const OPENCV_PACKAGES = [
  'libopencv-core-dev', 'libopencv-imgproc-dev', 'libopencv-imgcodecs-dev', 'libopencv-videoio-dev', 'libopencv-highgui-dev',
  'libopencv-objdetect-dev', 'libopencv-calib3d-dev', 'libopencv-dnn-dev', 'libopencv-features2d-dev', 'libopencv-photo-dev',
  'libopencv-video-dev', 'libopencv-ml-dev', 'libopencv-contrib-dev',
];

const work = mkdtempSync('/var/tmp/ek-provision-');
const root = path.join(work, 'root');
let bundle: TestBundle;
let bundleId = '';
let broker: Broker | undefined;
let brokerPort = 0;
let procMounted = false;

/** Runs a command inside the root. */
function inRoot(args: string[], opts: { allowFail?: boolean } = {}): { code: number; out: string } {
  return sh('chroot', [root, '/usr/bin/env', '-i', ...ROOT_ENV, ...args], opts);
}

/** Paths, sizes, modes, owners and mtimes of everything under the given dirs of the root: equal snapshots = no change. */
function snapshot(dirs: string[]): string {
  const { out } = inRoot(['find', ...dirs, '-printf', '%p %y %s %m %u:%g %T@ %l\\n'], { allowFail: true });
  return out.split('\n').sort().join('\n');
}

function setup(args: string[]): { code: number; out: string } {
  return inRoot(setupCommand(bundle, args), { allowFail: true });
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the provisioning test needs root (debootstrap, chroot)');
  for (const tool of ['debootstrap', 'chroot', 'mosquitto']) assert.ok(hasCommand(tool), `${tool} is not installed`);
  bundle = await makeTestBundle(work);
  bundleId = bundle.id;
  makeDebianRoot(root);
  sh('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')]);
  procMounted = true;
  // Daemons must not start inside a chroot (the standard policy-rc.d).
  writeFileSync(path.join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n');
  chmodSync(path.join(root, 'usr/sbin/policy-rc.d'), 0o755);
  provideHostNode(root);
  stageForSetup(root, bundle, `model:\n  path: ${UNTRAINED_MODEL}\nmqtt:\n  deviceId: provision-test\n`);
  // A broker on the host; the root shares the network.
  broker = await startBroker(work);
  brokerPort = broker.port;
});

after(() => {
  broker?.stop();
  if (procMounted) sh('umount', ['-l', path.join(root, 'proc')], { allowFail: true });
  removeWork(work);
});

const setupArgs = () => ['--with-mosquitto', '--broker', `mqtt://127.0.0.1:${brokerPort}`, '--camera', '/srv/megamind.avi', '--config-seed', '/root/seed.yaml'];

test('setup.sh provisions a fresh Debian 12 root from the bundle', { timeout: 60 * 60 * 1000 }, () => {
  const started = Date.now();
  const first = setup(setupArgs());
  log(`--- setup.sh, first run (${((Date.now() - started) / 1000).toFixed(0)} s, exit ${first.code}) ---\n${first.out.replace(/^.*(added \d+ packages|Setting up|Unpacking|Selecting|Preparing|Get:|Fetched).*\n/gm, '')}`);
  assert.equal(first.code, 0, 'setup.sh succeeded');

  for (const p of [...OPENCV_PACKAGES, 'build-essential', 'python3', 'mosquitto']) {
    assert.equal(inRoot(['dpkg-query', '-W', '-f=${Status}', p]).out, 'install ok installed', `${p} installed`);
  }
  const passwd = readFileSync(path.join(root, 'etc/passwd'), 'utf8');
  assert.match(passwd, /^emotion-kiosk:x:\d+:\d+:[^:]*:\/var\/lib\/emotion-kiosk:\/usr\/sbin\/nologin$/m, 'unprivileged service user with no login');
  assert.match(readFileSync(path.join(root, 'etc/group'), 'utf8'), /^video:x:\d+:.*\bemotion-kiosk\b/m, 'service user in the video group');

  const current = readlinkSync(path.join(root, 'opt/emotion-kiosk/current'));
  assert.equal(current, `releases/${bundleId}`);
  const app = path.join(root, 'opt/emotion-kiosk', current);
  assert.ok(existsSync(path.join(app, '.complete')));
  assert.ok(existsSync(path.join(app, 'node_modules/@u4/opencv4nodejs/build/Release/opencv4nodejs.node')), 'the OpenCV addon was compiled inside the root');
  assert.ok(!existsSync(path.join(app, 'node_modules/@tensorflow/tfjs-node')), 'training-only optional dependency left out');
  assert.equal(readlinkSync(path.join(root, 'usr/local/bin/emotion-kiosk')), '/opt/emotion-kiosk/current/dist/cli/main.js');

  const unit = path.join(root, 'etc/systemd/system/emotion-kiosk.service');
  assert.equal(readFileSync(unit, 'utf8'), readFileSync(path.join(repoRoot, 'device/emotion-kiosk.service'), 'utf8'));
  // The installed unit's exposure, as `systemd-analyze security emotion-kiosk.service` shows it on the device.
  const security = sh('systemd-analyze', ['security', '--offline=yes', `--root=${root}`, 'emotion-kiosk.service'], { allowFail: true });
  log(`--- systemd-analyze security --offline=yes --root=<root> emotion-kiosk.service (exit ${security.code}) ---\n${security.out}`);
  const exposure = Number(/Overall exposure level for emotion-kiosk\.service: ([\d.]+)/.exec(security.out)?.[1]);
  assert.ok(exposure <= 2, `exposure ${exposure}: want "OK" or better (<= 2)`);
  assert.ok(lstatSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/emotion-kiosk.service')).isSymbolicLink(), 'unit enabled');

  const configFile = path.join(root, 'etc/emotion-kiosk/config.yaml');
  const config = parseYaml(readFileSync(configFile, 'utf8'));
  assert.equal(config.source, '/srv/megamind.avi');
  assert.equal(config.mqtt.broker, `mqtt://127.0.0.1:${brokerPort}`);
  assert.equal(config.mqtt.deviceId, 'provision-test', 'seed value applied');
  assert.equal(config.model.path, '/opt/emotion-kiosk/current/models/deep_emotion.untrained.onnx');
  assert.equal(config.dataDir, '/var/lib/emotion-kiosk');
  assert.equal((statSync(configFile).mode & 0o777).toString(8), '640');
  const dataDir = statSync(path.join(root, 'var/lib/emotion-kiosk'));
  assert.equal(dataDir.uid, Number(/^emotion-kiosk:x:(\d+):/m.exec(passwd)![1]), 'data dir owned by the service user');

  // The doctor, as the service user, inside the root.
  const doctor = inRoot(['runuser', '-u', 'emotion-kiosk', '--', 'emotion-kiosk', 'doctor', '--config', '/etc/emotion-kiosk/config.yaml', '--json'], { allowFail: true });
  log(`--- emotion-kiosk doctor inside the root (exit ${doctor.code}) ---\n${inRoot(['runuser', '-u', 'emotion-kiosk', '--', 'emotion-kiosk', 'doctor', '--config', '/etc/emotion-kiosk/config.yaml'], { allowFail: true }).out}`);
  const report = JSON.parse(doctor.out.slice(doctor.out.indexOf('{'))) as { checks: { id: string; status: string; summary: string }[] };
  const status = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
  for (const id of ['platform', 'node', 'config', 'opencv', 'cascade', 'camera', 'camera-read', 'broker', 'disk']) assert.equal(status[id], 'ok', `doctor ${id}: ${JSON.stringify(report.checks.find((c) => c.id === id))}`);
  assert.equal(status.model, 'warn', 'the untrained test model is flagged');
  assert.match(report.checks.find((c) => c.id === 'camera-read')!.summary, /720x528/);
});

test('a second run changes nothing and says so', { timeout: 20 * 60 * 1000 }, () => {
  const dirs = ['/opt/emotion-kiosk', '/etc/emotion-kiosk', '/etc/systemd/system', '/var/lib/emotion-kiosk', '/usr/local/bin'];
  const before = snapshot(dirs);
  const second = setup(setupArgs());
  log(`--- setup.sh, second run (exit ${second.code}) ---\n${second.out}`);
  assert.equal(second.code, 0);
  assert.match(second.out, /Nothing to do: .*\(0 changes\)/);
  assert.doesNotMatch(second.out, /^ {2}change /m);
  const after = snapshot(dirs);
  const gone = before.split('\n').filter((l) => !after.includes(l));
  const added = after.split('\n').filter((l) => !before.includes(l));
  assert.deepEqual({ gone, added }, { gone: [], added: [] }, 'no file was touched');
});

test('operator edits survive re-provisioning; keys missing from the file are added back', { timeout: 20 * 60 * 1000 }, () => {
  const configFile = path.join(root, 'etc/emotion-kiosk/config.yaml');
  const edited = readFileSync(configFile, 'utf8').replace(/^ {2}fps: 15$/m, '  fps: 5 # slow camera, set by the operator').replace(/^logLevel: .*\n/m, '');
  writeFileSync(configFile, edited);
  const run = setup([...setupArgs().filter((a) => a !== '/srv/megamind.avi' && a !== '--camera'), '--camera', '0']);
  log(`--- setup.sh after an operator edit (exit ${run.code}) ---\n${run.out}`);
  assert.equal(run.code, 0);
  const text = readFileSync(configFile, 'utf8');
  assert.match(text, /fps: 5 # slow camera, set by the operator/);
  assert.match(text, /^source: "?\/srv\/megamind\.avi"?$/m, 'the operator\'s source is not replaced by --camera');
  assert.match(text, /^logLevel: info$/m, 'the missing key came back');
  assert.match(run.out, /add new key logLevel/);
  assert.equal(readFileSync(configFile + '.bak', 'utf8'), edited, 'the version before the merge is kept');
});

test('an update switches to the new release and --rollback switches back', { timeout: 20 * 60 * 1000 }, () => {
  // A second release: the bundle unpacked with a different id. Its release directory is pre-seeded from the
  // first one (same dependencies) so that this test exercises switching, not a second 5-minute addon build.
  const next = '0.1.0-testupdate';
  inRoot(['mkdir', '-p', '/root/next']);
  inRoot(['tar', '-xzf', `/root/${path.basename(bundle.file)}`, '-C', '/root/next', '--strip-components=1']);
  writeFileSync(path.join(root, 'root/next/BUNDLE_ID'), next + '\n');
  inRoot(['cp', '-a', `/opt/emotion-kiosk/releases/${bundleId}`, `/opt/emotion-kiosk/releases/${next}`]);
  inRoot(['sh', '-c', `echo ${next} > /opt/emotion-kiosk/releases/${next}/BUNDLE_ID`]);

  const update = inRoot(['bash', '/root/next/device/setup.sh'], { allowFail: true });
  log(`--- setup.sh from the next release (exit ${update.code}) ---\n${update.out}`);
  assert.equal(update.code, 0);
  assert.match(update.out, new RegExp(`point /opt/emotion-kiosk/current at releases/${next} \\(was releases/${bundleId}; roll back with --rollback\\)`));
  assert.equal(readlinkSync(path.join(root, 'opt/emotion-kiosk/current')), `releases/${next}`);
  assert.equal(readFileSync(path.join(root, 'opt/emotion-kiosk/previous'), 'utf8').trim(), bundleId);
  assert.match(readFileSync(path.join(root, 'etc/emotion-kiosk/setup.conf'), 'utf8'), /with_mosquitto=1/, 'choices of the first run kept');

  const rollback = inRoot(['bash', '/opt/emotion-kiosk/current/device/setup.sh', '--rollback'], { allowFail: true });
  log(`--- setup.sh --rollback (exit ${rollback.code}) ---\n${rollback.out}`);
  assert.equal(rollback.code, 0);
  assert.equal(readlinkSync(path.join(root, 'opt/emotion-kiosk/current')), `releases/${bundleId}`);
  assert.equal(readFileSync(path.join(root, 'opt/emotion-kiosk/previous'), 'utf8').trim(), next);
  const doctor = inRoot(['runuser', '-u', 'emotion-kiosk', '--', 'emotion-kiosk', 'doctor', '--config', '/etc/emotion-kiosk/config.yaml', '--no-camera'], { allowFail: true });
  assert.equal(doctor.code, 0, `the rolled-back release works:\n${doctor.out}`);
});

test('a USB camera install (--camera 0): the config says "0", and the service\'s preflight doctor passes as the service user', { timeout: 20 * 60 * 1000 }, () => {
  // A fresh config, as on a new generic device (the platform default camera there is 0 too).
  const configFile = path.join(root, 'etc/emotion-kiosk/config.yaml');
  rmSync(configFile);
  const run = setup(['--with-mosquitto', '--broker', `mqtt://127.0.0.1:${brokerPort}`, '--camera', '0', '--config-seed', '/root/seed.yaml']);
  log(`--- setup.sh --camera 0 on a fresh config (exit ${run.code}) ---\n${run.out}`);
  assert.equal(run.code, 0);
  const text = readFileSync(configFile, 'utf8');
  assert.match(text, /^source: "0"$/m, 'the camera index is written as a string');
  assert.equal(parseYaml(text).source, '0');
  const check = inRoot(['runuser', '-u', 'emotion-kiosk', '--', 'emotion-kiosk', 'config', '--check', '--config', '/etc/emotion-kiosk/config.yaml'], { allowFail: true });
  assert.equal(check.code, 0, `config --check as the service user:\n${check.out}`);
  // Exactly what systemd runs before the kiosk (ExecStartPre=), as the service user: a failure here is a restart loop.
  const unit = readFileSync(path.join(root, 'etc/systemd/system/emotion-kiosk.service'), 'utf8');
  const pre = /^ExecStartPre=(.+)$/m.exec(unit)![1]!.split(' ');
  assert.ok(pre.includes('--preflight'));
  const doctor = inRoot(['runuser', '-u', 'emotion-kiosk', '--', ...pre], { allowFail: true });
  log(`--- ${pre.join(' ')} as emotion-kiosk (exit ${doctor.code}) ---\n${doctor.out}`);
  assert.equal(doctor.code, 0, 'the preflight doctor passes (no /dev/video0 in the root is a warning, not a failure)');
  assert.doesNotMatch(doctor.out, /expected string, received number/);
});

test('--uninstall removes the app, unit and user but keeps config and outbox', { timeout: 10 * 60 * 1000 }, () => {
  const outbox = path.join(root, 'var/lib/emotion-kiosk/outbox');
  mkdirSync(outbox, { recursive: true });
  writeFileSync(path.join(outbox, '000001.json'), '{"type":"emotion_changed","pending":true}\n');
  const config = readFileSync(path.join(root, 'etc/emotion-kiosk/config.yaml'), 'utf8');
  const run = inRoot(['bash', '/root/setup.sh', '--uninstall'], { allowFail: true });
  log(`--- setup.sh --uninstall (exit ${run.code}) ---\n${run.out}`);
  assert.equal(run.code, 0);
  assert.ok(!existsSync(path.join(root, 'opt/emotion-kiosk')));
  assert.ok(!existsSync(path.join(root, 'etc/systemd/system/emotion-kiosk.service')));
  assert.ok(!existsSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/emotion-kiosk.service')));
  assert.ok(!existsSync(path.join(root, 'usr/local/bin/emotion-kiosk')));
  assert.doesNotMatch(readFileSync(path.join(root, 'etc/passwd'), 'utf8'), /^emotion-kiosk:/m);
  assert.equal(readFileSync(path.join(root, 'etc/emotion-kiosk/config.yaml'), 'utf8'), config, 'config kept as it was');
  assert.equal(readFileSync(path.join(outbox, '000001.json'), 'utf8'), '{"type":"emotion_changed","pending":true}\n', 'outbox kept');
  const again = inRoot(['bash', '/root/setup.sh', '--uninstall'], { allowFail: true });
  assert.equal(again.code, 0);
  assert.match(again.out, /\(0 changes\)/, 'uninstalling twice is a no-op');
});
