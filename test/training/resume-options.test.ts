import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resumeOptions } from '../../src/training/resume-options.js';

const first = { epochs: 24, patience: 8, width: 16, width2: 48, maxLr: 0.002, backend: 'wasm', workers: 1, data: '/old', run: 'runs/a' };

test('a resume keeps the first start options unless --epochs / --patience are given on the command line', () => {
  // --epochs 30 typed by the user equals the default (30): it must still count
  const given = { epochs: 30, patience: 10, width: 10, maxLr: 0.003, backend: 'auto', workers: 2, data: '/new', run: 'runs/a' };
  const typed = new Set(['epochs', 'workers', 'data', 'run']);
  const o = resumeOptions(first, given, (n) => typed.has(n));
  assert.equal(o['epochs'], 30);
  assert.equal(o['patience'], 8, 'patience not typed: the stored one');
  assert.equal(o['width'], 16, 'architecture from the first start');
  assert.equal(o['width2'], 48);
  assert.equal(o['maxLr'], 0.002);
  assert.equal(o['workers'], 2);
  assert.equal(o['backend'], 'auto');
  assert.equal(o['data'], '/new');
  assert.equal(o['resume'], true);
});

test('a plain --resume changes nothing of the schedule', () => {
  const o = resumeOptions(first, { epochs: 30, patience: 10, backend: 'wasm', workers: 2, data: '/d', run: 'runs/a' }, () => false);
  assert.equal(o['epochs'], 24);
  assert.equal(o['patience'], 8);
});
