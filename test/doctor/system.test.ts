import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkArchitecture, checkClock, checkNodeVersion, gatherClockFacts } from '../../src/doctor/system.js';

test('64-bit Linux passes; a 32-bit OS fails with what to flash instead', () => {
  assert.equal(checkArchitecture('arm64', 'linux').status, 'ok');
  assert.equal(checkArchitecture('x64', 'linux').status, 'ok');
  const arm = checkArchitecture('arm', 'linux');
  assert.equal(arm.status, 'fail');
  assert.match(arm.summary, /32-bit OS \(arm\): onnxruntime-node has no 32-bit build/);
  assert.match(arm.fix!, /Raspberry Pi OS \(64-bit\)/);
  assert.equal(checkArchitecture('ppc64', 'linux').status, 'fail');
  assert.equal(checkArchitecture('arm64', 'darwin').status, 'warn');
});

test('Node.js must be 20 or newer', () => {
  assert.equal(checkNodeVersion('v20.20.2').status, 'ok');
  assert.equal(checkNodeVersion('v22.1.0').status, 'ok');
  const old = checkNodeVersion('v18.19.0');
  assert.equal(old.status, 'fail');
  assert.match(old.fix!, /setup\.sh/);
});

test('a clock in the past fails; unsynchronised NTP warns; no timedatectl is fine', () => {
  const past = checkClock({ now: new Date('1970-01-01T00:00:30Z'), ntpSynchronized: 'no', ntpEnabled: 'yes' });
  assert.equal(past.status, 'fail');
  assert.match(past.summary, /1970-01-01T00:00:30\.000Z, before 2025/);
  assert.match(past.fix!, /no battery clock/);
  const now = new Date('2026-03-01T12:00:00Z');
  assert.equal(checkClock({ now, ntpSynchronized: 'yes', ntpEnabled: 'yes' }).status, 'ok');
  const off = checkClock({ now, ntpSynchronized: 'no', ntpEnabled: 'no' });
  assert.equal(off.status, 'warn');
  assert.match(off.fix!, /timedatectl set-ntp true/);
  assert.equal(checkClock({ now, ntpSynchronized: 'no', ntpEnabled: 'yes' }).status, 'warn');
  assert.match(checkClock({ now, ntpSynchronized: undefined, ntpEnabled: undefined }).summary, /NTP sync not checked/);
});

test('gathering clock facts works with or without timedatectl', async () => {
  const f = await gatherClockFacts();
  assert.ok(Math.abs(f.now.getTime() - Date.now()) < 60_000);
  assert.ok(f.ntpSynchronized === undefined || ['yes', 'no'].includes(f.ntpSynchronized));
});
