/**
 * Config versions: a file without `version` is version 1 and still loads (its removed key dropped, with a note);
 * a current file loads as it is; a newer or malformed version is a clear config error; setup.sh's merge keeps an
 * old file's keys and never stamps a version on it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { CONFIG_VERSION, ConfigVersionError, migrateConfig } from '../../src/config/migrate.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { mergeConfig } from '../../device/lib/config-merge.mjs';
import { readFileSync } from 'node:fs';
import { repoRoot } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-migrate-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const f = path.join(tmp, name);
  writeFileSync(f, text);
  return f;
};

test('migrateConfig: version 1 (no version key) -> current, removed key dropped with a note; input untouched', () => {
  const v1 = { source: 'rpicam', privacy: { shareFaceImages: true } };
  const m = migrateConfig(v1);
  assert.equal(m.from, 1);
  assert.deepEqual(m.tree, { source: 'rpicam', version: CONFIG_VERSION });
  assert.equal(m.notes.length, 1);
  assert.match(m.notes[0]!, /config version 1 -> 2: privacy\.shareFaceImages \(true\) removed/);
  assert.deepEqual(v1, { source: 'rpicam', privacy: { shareFaceImages: true } }, 'the caller’s tree is not mutated');
  assert.deepEqual(migrateConfig({ source: '0' }).notes, [], 'nothing to change, nothing said');
  assert.deepEqual(migrateConfig({ version: CONFIG_VERSION, source: '0' }), { tree: { version: CONFIG_VERSION, source: '0' }, from: CONFIG_VERSION, notes: [] });
});

test('migrateConfig: a newer, zero, fractional or non-numeric version is refused with what to do', () => {
  assert.throws(() => migrateConfig({ version: CONFIG_VERSION + 1 }), (e: Error) => e instanceof ConfigVersionError && /newer than this emotion-kiosk reads .*upgrade emotion-kiosk/.test(e.message));
  for (const bad of [0, 1.5, '2', null, [2]]) assert.throws(() => migrateConfig({ version: bad }), ConfigVersionError, JSON.stringify(bad));
});

test('loadConfig: a version-1 file with the removed key starts (it was a strict-schema error before versions)', () => {
  const f = write('v1.yaml', 'source: /dev/video0\nprivacy:\n  shareFaceImages: false\n');
  const loaded = loadConfig({ file: f, env: {} });
  assert.equal(loaded.config.version, CONFIG_VERSION);
  assert.equal(loaded.config.source, '/dev/video0');
  assert.equal(loaded.notes.length, 1);
  assert.ok(loaded.notes[0]!.startsWith(`${f}: config version 1 -> 2`));
  const future = write('v9.yaml', 'version: 9\nsource: "0"\n');
  assert.throws(() => loadConfig({ file: future, env: {} }), (e: Error) => e instanceof ConfigError && e.message.includes(`(from ${future})`) && /version 9, newer/.test(e.message));
  const current = write('v2.yaml', `version: ${CONFIG_VERSION}\nprivacy:\n  shareFaceImages: true\n`);
  assert.throws(() => loadConfig({ file: current, env: {} }), /privacy/, 'a current-version file is read strictly: the removed key is an error there');
});

test("setup.sh's merge keeps an old file's keys and version-less format; a fresh install gets the template's version", () => {
  const templateText = readFileSync(path.join(repoRoot, 'device/config.template.yaml'), 'utf8');
  const existingText = '# mine\nsource: rpicam\nprivacy:\n  shareFaceImages: false\n';
  const r = mergeConfig({ existingText, templateText });
  assert.ok(!r.added.includes('version'), r.added.join(','));
  assert.match(r.text, /# mine\nsource: rpicam\nprivacy:\n {2}shareFaceImages: false/);
  const merged = write('merged.yaml', r.text);
  assert.equal(loadConfig({ file: merged, env: {} }).config.version, CONFIG_VERSION, 'the merged old file loads');
  const fresh = mergeConfig({ existingText: null, templateText });
  assert.match(fresh.text, new RegExp(`^version: ${CONFIG_VERSION}$`, 'm'));
  assert.equal(loadConfig({ file: write('fresh.yaml', fresh.text), env: {} }).config.version, CONFIG_VERSION);
});
