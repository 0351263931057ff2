/**
 * device/setup.sh's fast checks: option validation, the 32-bit refusal, and a --dry-run on this machine that
 * prints the whole plan and changes nothing. (The real installation runs in `npm run test:provision`.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  assert.match(run(['--kiosk', 'fullscreen']).stderr, /--kiosk must be headless or dashboard/);
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
