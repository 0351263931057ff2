/** Automatic rollback rules: a crash on start with a switched-to model (no clean stop) within the window, and halved fps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chooseStartModel, FpsWatch, markCleanStop } from '../../src/remote/kiosk-host.js';
import { tempDir } from '../mqtt/helpers/mosquitto.js';
import { remoteConfig } from './helpers.js';

test('a switched-to model is used at the next start; a start that never stopped cleanly within the window sends the next one back to the previous model', () => {
  const dir = tempDir('rollback');
  mkdirSync(path.join(dir, 'models'), { recursive: true });
  const newer = path.join(dir, 'models', 'new.onnx');
  const older = path.join(dir, 'models', 'old.onnx');
  writeFileSync(newer, 'x');
  writeFileSync(older, 'x');
  const active = path.join(dir, 'models', 'active.json');
  writeFileSync(active, JSON.stringify({ path: newer, previous: older, at: 1000, starts: 0 }));
  const cfg = remoteConfig({ remote: { enabled: true, rollbackWindowS: 600 } }, dir);

  const first = chooseStartModel(cfg, 2000);
  assert.equal(first.path, newer);
  assert.equal(first.rolledBack, null);
  markCleanStop(dir); // it stopped cleanly: the next start is not a crash
  assert.equal(chooseStartModel(cfg, 3000).path, newer);
  // ... this one dies (no markCleanStop): the next start goes back
  const back = chooseStartModel(cfg, 4000);
  assert.equal(back.path, older);
  assert.match(back.rolledBack ?? '', /did not stop cleanly after starting with .*new\.onnx.*back to .*old\.onnx/);
  assert.equal(JSON.parse(readFileSync(active, 'utf8')).path, older);
  assert.equal(chooseStartModel(cfg, 5000).path, older, 'and stays there');

  // outside the window a restart is never a rollback
  writeFileSync(active, JSON.stringify({ path: newer, previous: older, at: 1000, starts: 5 }));
  assert.equal(chooseStartModel(cfg, 1000 + 601_000).path, newer);
});

test('FpsWatch: three checks in a row under half of the fps before the switch', () => {
  const w = new FpsWatch(10);
  assert.deepEqual([6, 4, 4, 6, 4, 4].map((f) => w.sample(f)), [false, false, false, false, false, false]);
  assert.equal(w.sample(4), true);
  assert.equal(new FpsWatch(0).sample(0), false, 'no fps before: never');
});
