import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printable } from '../../src/dashboard/printable.js';

test('C0, DEL and C1 controls (ESC among them) are removed; newlines only where a panel has lines', () => {
  const all = Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join('');
  assert.equal(printable(all), ' ' + ' ' + all.slice(0x20, 0x7f));
  assert.equal(printable('a\nb\tc', true), 'a\nb c');
  assert.equal(printable('\u001b]0;PWNED\u0007\u001b[2Jok\u009b31m'), ']0;PWNED[2Jok31m');
  assert.equal(printable('émoji 😀 ok'), 'émoji 😀 ok');
});
