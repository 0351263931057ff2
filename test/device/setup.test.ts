/**
 * device/setup.sh's fast checks: option validation, the 32-bit refusal, and a --dry-run on this machine that
 * prints the whole plan and changes nothing. (The real installation runs in `npm run test:provision`.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from '../helpers/fixtures.js';

const setup = path.join(repoRoot, 'device', 'setup.sh');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-setup-'));
const app = path.join(tmp, 'app');
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync('bash', [setup, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  // An unpacked release as far as setup.sh looks at it before installing.
  mkdirSync(path.join(app, 'dist', 'cli'), { recursive: true });
  writeFileSync(path.join(app, 'dist', 'cli', 'main.js'), '#!/usr/bin/env node\n');
  writeFileSync(path.join(app, 'package.json'), '{"name":"emotion-kiosk","version":"9.9.9"}\n');
  writeFileSync(path.join(app, 'package-lock.json'), '{}\n');
  cpSync(path.join(repoRoot, 'device'), path.join(app, 'device'), { recursive: true });
});

test('--help explains the options', () => {
  const r = run(['--help']);
  assert.equal(r.code, 0);
  for (const opt of ['--bundle', '--dry-run', '--uninstall', '--purge', '--rollback', '--with-mosquitto', '--kiosk']) assert.ok(r.stdout.includes(opt), opt);
});

test('bad options are refused before anything happens', () => {
  assert.match(run(['--kiosk', 'fullscreen']).stderr, /--kiosk must be headless, dashboard or display, not 'fullscreen'/);
  assert.match(run(['--broker', 'tcp://x']).stderr, /--broker 'tcp:\/\/x' is not mqtt:\/\/host:port/);
  assert.match(run(['--purge']).stderr, /--purge only goes with --uninstall/);
  assert.match(run(['--config-seed', '/nonexistent/seed.yaml']).stderr, /no such readable file/);
  assert.match(run(['--frobnicate']).stderr, /unknown option: --frobnicate/);
  assert.match(run(['--dry-run', '--bundle', path.join(tmp, 'missing.tar.gz')]).stderr, /bundle .*missing\.tar\.gz: no such readable file/);
});

test('a 32-bit OS is refused with what to do instead', () => {
  // A 32-bit Raspberry Pi OS cannot exist on this machine: a stand-in dpkg reports its architecture.
  const bin = path.join(tmp, 'bin32');
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, 'dpkg'), '#!/bin/sh\n[ "$1" = --print-architecture ] && echo armhf\n');
  chmodSync(path.join(bin, 'dpkg'), 0o755);
  const r = run(['--dry-run', '--source', app], { PATH: `${bin}:${process.env.PATH}` });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /32-bit OS \(armhf userland.*onnxruntime-node has no 32-bit build.*Flash a 64-bit OS/);
});

test('--dry-run prints the whole plan and changes nothing', () => {
  const r = run(['--dry-run', '--source', app, '--platform', 'generic', '--with-mosquitto', '--kiosk', 'dashboard']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^Dry run: printing every action, changing nothing\./m);
  assert.match(out, /== Platform\n {2}ok {6}generic/);
  assert.match(out, /would {3}install release 9\.9\.9-[0-9a-f]{12} into \/opt\/emotion-kiosk\/releases\//);
  assert.match(out, /\[dry-run\] npm ci --omit=dev --omit=optional/);
  assert.match(out, /would {3}link \/usr\/local\/bin\/emotion-kiosk -> \/opt\/emotion-kiosk\/current\/dist\/cli\/main\.js/);
  assert.match(out, /would {3}install \/etc\/systemd\/system\/emotion-kiosk\.service/);
  assert.match(out, /would {3}install \/etc\/systemd\/system\/emotion-kiosk\.service\.d\/30-dashboard\.conf/);
  assert.match(out, /would {3}remember kiosk=dashboard with_mosquitto=1 in \/etc\/emotion-kiosk\/setup\.conf/);
  assert.match(out, /would {3}enable emotion-kiosk\.service/);
  assert.match(out, /Dry run: \d+ change\(s\) would be made; nothing was done\./);
  if (!/^emotion-kiosk:/m.test(spawnSync('getent', ['passwd', 'emotion-kiosk'], { encoding: 'utf8' }).stdout)) {
    assert.match(out, /would {3}create system user emotion-kiosk/);
    assert.ok(spawnSync('id', ['emotion-kiosk']).status !== 0, 'no user was created');
  }
  for (const p of ['/opt/emotion-kiosk', '/etc/systemd/system/emotion-kiosk.service', '/usr/local/bin/emotion-kiosk', '/etc/emotion-kiosk']) {
    assert.ok(!existsSync(p), `${p} was not created`);
  }
});

test('--dry-run --kiosk display: the display drop-in, the groups it names, and the choice remembered', () => {
  const r = run(['--dry-run', '--source', app, '--platform', 'generic', '--kiosk', 'display']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /would {3}install \/etc\/systemd\/system\/emotion-kiosk\.service\.d\/30-display\.conf/);
  assert.doesNotMatch(r.stdout, /30-dashboard\.conf/, 'no dashboard drop-in to remove: none is installed');
  assert.match(r.stdout, /would {3}remember kiosk=display with_mosquitto=0 in \/etc\/emotion-kiosk\/setup\.conf/);
  if (!/^emotion-kiosk:/m.test(spawnSync('getent', ['passwd', 'emotion-kiosk'], { encoding: 'utf8' }).stdout)) {
    for (const g of ['video', 'render', 'input']) assert.match(r.stdout, new RegExp(`would {3}add emotion-kiosk to group ${g} `), g);
  }
  assert.ok(!existsSync('/etc/systemd/system/emotion-kiosk.service.d'), 'nothing was installed');
});

/** Runs setup.sh's own functions (sourced) with the directories pointed into this test's temp dir. */
function sourced(lines: string[], vars: Record<string, string>) {
  const script = ['set -Eeuo pipefail', 'source "$1" --help', ...Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`), ...lines].join('\n');
  const r = spawnSync('bash', ['-c', script, 'setup', setup], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('the kiosk mode is remembered: a later run without --kiosk keeps display', () => {
  const conf = path.join(tmp, 'remember');
  mkdirSync(conf, { recursive: true });
  writeFileSync(path.join(conf, 'setup.conf'), '# emotion-kiosk setup.sh choices\nkiosk=display\nwith_mosquitto=0\n');
  assert.match(sourced(['load_choices', 'echo "kiosk=$KIOSK"'], { CONF_DIR: conf }).out, /^kiosk=display$/m);
  assert.match(sourced(['KIOSK=headless', 'load_choices', 'echo "kiosk=$KIOSK"'], { CONF_DIR: conf }).out, /^kiosk=headless$/m, '--kiosk given wins');
});

test('--kiosk display on an OS without cage in apt: refused with what to do', () => {
  const r = sourced(['pkg_installed() { return 1; }', 'candidate_available() { [[ $1 != cage ]]; }', 'KIOSK=display', 'install_packages'], { DRY_RUN: '1', PLATFORM: 'generic' });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /--kiosk display needs the package cage, which this OS's apt sources do not have .* or use --kiosk dashboard/);
  const ok = sourced(['pkg_installed() { [[ $1 != cage && $1 != xwayland ]]; }', 'candidate_available() { return 0; }', 'KIOSK=display', 'install_packages'], { DRY_RUN: '1', PLATFORM: 'generic' });
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /would {3}install cage xwayland$/m);
});

test('switching modes swaps the drop-ins; display on a desktop machine boots to the console instead', () => {
  const prefix = path.join(tmp, 'units-prefix');
  mkdirSync(prefix, { recursive: true });
  symlinkSync(app, path.join(prefix, 'current'));
  const unitDir = path.join(tmp, 'units');
  const calls = path.join(tmp, 'systemctl.log');
  // systemd is not PID 1 here: a stand-in systemctl that records what it is asked; this machine has a desktop.
  const systemctl = `systemctl() { echo "$*" >>${JSON.stringify(calls)}; case $1 in --version) echo "systemd 252 (252.38-1)" ;; get-default) echo graphical.target ;; cat) return 0 ;; is-enabled) return 0 ;; esac; }`;
  const mode = (kiosk: string) => sourced([systemctl, `KIOSK=${kiosk}`, 'install_units', 'echo "reboot=$REBOOT_NEEDED"'], { PREFIX: prefix, UNIT_DIR: unitDir });
  const dropIns = () => readdirSync(path.join(unitDir, 'emotion-kiosk.service.d')).sort();

  const display = mode('display');
  assert.equal(display.code, 0, display.out);
  assert.deepEqual(dropIns(), ['30-display.conf']);
  assert.equal(readFileSync(path.join(unitDir, 'emotion-kiosk.service.d', '30-display.conf'), 'utf8'), readFileSync(path.join(repoRoot, 'device', 'emotion-kiosk-display.conf'), 'utf8'));
  assert.match(display.out, /change {2}boot without the desktop: default target multi-user\.target/);
  assert.match(display.out, /^reboot=1$/m);
  assert.match(readFileSync(calls, 'utf8'), /^set-default multi-user\.target$/m);

  const dashboard = mode('dashboard');
  assert.equal(dashboard.code, 0, dashboard.out);
  assert.deepEqual(dropIns(), ['30-dashboard.conf']);
  assert.match(dashboard.out, /change {2}remove .*30-display\.conf/);
  assert.doesNotMatch(dashboard.out, /boot without the desktop/);

  const headless = mode('headless');
  assert.equal(headless.code, 0, headless.out);
  assert.deepEqual(dropIns(), []);
});
