import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { checkDisk, gatherDiskFacts, MIN_FREE_BYTES, WARN_FREE_BYTES } from '../../src/doctor/disk.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-doctor-disk-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const MiB = 1024 * 1024;

test('facts of a real directory, and of one not created yet (its nearest existing parent)', () => {
  const dir = path.join(tmp, 'data', 'outbox');
  const missing = gatherDiskFacts(dir);
  assert.equal(missing.dir, dir);
  assert.equal(missing.existing, tmp);
  assert.equal(missing.writable, true);
  assert.ok(missing.freeBytes > 0 && missing.totalBytes >= missing.freeBytes);
  mkdirSync(dir, { recursive: true });
  assert.equal(gatherDiskFacts(dir).existing, dir);
  assert.match(checkDisk(gatherDiskFacts(dir), 'me').summary, new RegExp(`outbox ${dir} writable`));
});

test('not writable, nearly full and getting full', () => {
  const base = { dir: '/var/lib/emotion-kiosk/outbox', existing: '/var/lib/emotion-kiosk/outbox', totalBytes: 16_000 * MiB };
  const ro = checkDisk({ ...base, writable: false, freeBytes: 9_000 * MiB }, 'emotion-kiosk');
  assert.equal(ro.status, 'fail');
  assert.match(ro.fix!, /chown -R emotion-kiosk: \/var\/lib\/emotion-kiosk\/outbox/);
  assert.equal(checkDisk({ ...base, writable: true, freeBytes: MIN_FREE_BYTES - 1 }, 'u').status, 'fail');
  assert.equal(checkDisk({ ...base, writable: true, freeBytes: WARN_FREE_BYTES - 1 }, 'u').status, 'warn');
  assert.equal(checkDisk({ ...base, writable: true, freeBytes: WARN_FREE_BYTES }, 'u').status, 'ok');
});
