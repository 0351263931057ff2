import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fail, formatReport, ok, skip, summarize, warn } from '../../src/doctor/result.js';

test('any failed check makes the exit code 1; warnings and skips do not', () => {
  assert.equal(summarize([ok('a', 'fine'), warn('b', 'meh', 'do x'), skip('c', 'n/a')]).exitCode, 0);
  const r = summarize([ok('a', 'fine'), fail('b', 'broken', 'do y')]);
  assert.equal(r.exitCode, 1);
  assert.deepEqual(r.counts, { ok: 1, warn: 0, fail: 1, skip: 0 });
});

test('the report shows every check, the fix under each problem, and a verdict', () => {
  const text = formatReport(summarize([ok('clock', '2026-01-01, NTP synchronized'), fail('camera', '/dev/video0 does not exist', 'plug it in', ['detail line']), warn('model', 'untrained', 'install a trained one')]));
  assert.match(text, /^\[ ok \] clock {3}2026-01-01, NTP synchronized$/m);
  assert.match(text, /^\[FAIL\] camera {2}\/dev\/video0 does not exist\n {15}detail line\n {15}fix: plug it in$/m);
  assert.match(text, /^\[WARN\] model {3}untrained\n {15}fix: install a trained one$/m);
  assert.match(text, /1 problem\(s\) will stop the kiosk, 1 warning\(s\)/);
  assert.match(formatReport(summarize([ok('a', 'x')])), /All 1 checks passed\./);
});
