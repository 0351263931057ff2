/**
 * doctor's kiosk line: which mode setup.sh set (setup.conf beside the config) and, for --kiosk display, whether
 * cage and Xwayland are there. The check is pure; the gathering reads a real setup.conf and looks up real programs.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { checkKioskMode, gatherKioskFacts, parseSetupConf, type KioskFacts } from '../../src/doctor/kiosk-mode.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-kiosk-mode-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const facts = (over: Partial<KioskFacts>): KioskFacts => ({
  setupConf: '/etc/emotion-kiosk/setup.conf',
  mode: 'display',
  dropIn: true,
  cage: { path: '/usr/bin/cage', version: 'cage 0.1.4' },
  xwayland: '/usr/bin/Xwayland',
  xdpyinfo: '/usr/bin/xdpyinfo',
  seatd: { path: '/usr/sbin/seatd', running: true },
  ...over,
});

test('setup.conf: the last kiosk= line, comments and other keys ignored', () => {
  assert.equal(parseSetupConf('# emotion-kiosk setup.sh choices\nkiosk=display\nwith_mosquitto=0\n'), 'display');
  assert.equal(parseSetupConf('kiosk=headless\nkiosk = dashboard \n'), 'dashboard');
  assert.equal(parseSetupConf('with_mosquitto=1\n'), undefined);
});

test('each mode says what the screen shows; display names its compositor', () => {
  assert.deepEqual(
    [checkKioskMode(facts({ mode: 'headless' })).status, checkKioskMode(facts({ mode: 'dashboard' })).status, checkKioskMode(facts({})).status],
    ['ok', 'ok', 'ok'],
  );
  assert.match(checkKioskMode(facts({ mode: 'headless' })).summary, /^headless: nothing on the attached screen/);
  assert.match(checkKioskMode(facts({ mode: 'dashboard' })).summary, /^dashboard: the terminal dashboard .*tty1/);
  assert.match(checkKioskMode(facts({})).summary, /^display: the camera view full screen .*in cage \(cage 0\.1\.4 at \/usr\/bin\/cage, Xwayland at \/usr\/bin\/Xwayland\)/);
  const none = checkKioskMode(facts({ mode: undefined }));
  assert.equal(none.status, 'skip');
  assert.match(none.summary, /no kiosk mode set .*not provisioned by device\/setup\.sh/);
});

test('display without cage or Xwayland fails with the packages to install; a missing drop-in warns', () => {
  const noCage = checkKioskMode(facts({ cage: undefined }));
  assert.equal(noCage.status, 'fail');
  assert.match(noCage.summary, /cage \(the kiosk compositor\) not installed: the screen stays dark/);
  assert.match(noCage.fix!, /^sudo apt-get install cage, or run device\/setup\.sh again/);
  const neither = checkKioskMode(facts({ cage: undefined, xwayland: undefined }));
  assert.match(neither.fix!, /apt-get install cage xwayland/);
  assert.match(checkKioskMode(facts({ xwayland: undefined })).summary, /Xwayland \(the OpenCV window reaches cage through it\) not installed/);
  const noDropIn = checkKioskMode(facts({ dropIn: false }));
  assert.equal(noDropIn.status, 'warn');
  assert.match(noDropIn.summary, /30-display\.conf is missing, so the service runs headless/);
  assert.equal(checkKioskMode(facts({ mode: 'dashboard', dropIn: false })).status, 'warn');
  // seatd gives cage the seat (the drop-in has no logind session): not installed fails, not running warns.
  const noSeatd = checkKioskMode(facts({ seatd: { path: undefined, running: false } }));
  assert.equal(noSeatd.status, 'fail');
  assert.match(noSeatd.summary, /seatd is not installed/);
  assert.match(noSeatd.fix!, /apt-get install seatd && sudo systemctl enable --now seatd/);
  const seatdStopped = checkKioskMode(facts({ seatd: { path: '/usr/sbin/seatd', running: false } }));
  assert.equal(seatdStopped.status, 'warn');
  assert.match(seatdStopped.summary, /seatd is installed but not running \(\/run\/seatd\.sock is missing\)/);
  const noXdpyinfo = checkKioskMode(facts({ xdpyinfo: undefined }));
  assert.equal(noXdpyinfo.status, 'warn');
  assert.match(noXdpyinfo.fix!, /apt-get install x11-utils/);
  const bad = checkKioskMode(facts({ mode: 'fullscreen' }));
  assert.equal(bad.status, 'fail');
  assert.match(bad.summary, /kiosk=fullscreen in .* is not a kiosk mode/);
});

test('gathering: setup.conf beside the config, cage and Xwayland looked up on PATH', async () => {
  const conf = path.join(tmp, 'etc');
  mkdirSync(conf);
  writeFileSync(path.join(conf, 'setup.conf'), 'kiosk=display\nwith_mosquitto=0\n');
  const bin = path.join(tmp, 'bin');
  mkdirSync(bin);
  const noPrograms = await gatherKioskFacts(path.join(conf, 'config.yaml'), { PATH: bin });
  assert.equal(noPrograms.setupConf, path.join(conf, 'setup.conf'));
  assert.equal(noPrograms.mode, 'display');
  assert.equal(noPrograms.cage, undefined);
  assert.equal(noPrograms.xwayland, undefined);
  assert.equal(checkKioskMode(noPrograms).status, 'fail');
  // Programs that answer like cage 0.1.4 and Xwayland (the real ones cannot be put on this PATH alone).
  writeFileSync(path.join(bin, 'cage'), '#!/bin/sh\necho "Cage version 0.1.4"\n');
  for (const p of ['Xwayland', 'xdpyinfo', 'seatd']) writeFileSync(path.join(bin, p), '#!/bin/sh\nexit 0\n');
  for (const p of ['cage', 'Xwayland', 'xdpyinfo', 'seatd']) chmodSync(path.join(bin, p), 0o755);
  const socket = path.join(tmp, 'seatd.sock');
  const stopped = await gatherKioskFacts(path.join(conf, 'config.yaml'), { PATH: bin }, socket);
  assert.deepEqual(stopped.seatd, { path: path.join(bin, 'seatd'), running: false });
  writeFileSync(socket, ''); // stands for the socket: the check looks for its path
  const found = await gatherKioskFacts(path.join(conf, 'config.yaml'), { PATH: bin }, socket);
  assert.equal(found.seatd.running, true);
  assert.deepEqual(found.cage, { path: path.join(bin, 'cage'), version: 'cage 0.1.4' });
  assert.equal(found.xwayland, path.join(bin, 'Xwayland'));
  assert.equal(checkKioskMode({ ...found, dropIn: true }).status, 'ok');
  // No setup.conf beside the config: the device's, /etc/emotion-kiosk/setup.conf, when there is one.
  const none = await gatherKioskFacts(path.join(tmp, 'elsewhere', 'config.yaml'), { PATH: bin });
  if (existsSync('/etc/emotion-kiosk/setup.conf')) assert.equal(none.setupConf, '/etc/emotion-kiosk/setup.conf');
  else assert.deepEqual([none.setupConf, none.mode, checkKioskMode(none).status], [path.join(tmp, 'elsewhere', 'setup.conf'), undefined, 'skip']);
});
