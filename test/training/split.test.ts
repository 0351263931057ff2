import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadFer2013, type FerDataset } from '../../src/training/fer2013.js';
import { applySplit, DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION, formatSplitFile, parseSplitFile, splitKey, splitTraining, stratifiedSplit } from '../../src/training/split.js';
import { fer2013Dir } from '../helpers/fixtures.js';

const FER = fer2013Dir;
const REPO = path.resolve(import.meta.dirname, '..', '..');
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'split-test-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** 1000 keys in 3 classes of sizes 600 / 300 / 100. */
function synthetic(): { keys: string[]; labels: number[] } {
  const keys: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < 1000; i++) {
    keys.push(`train/c${i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2}/img_${String(i).padStart(4, '0')}.jpg`);
    labels.push(i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2);
  }
  return { keys, labels };
}

test('the split is stratified: round(10%) of every class', () => {
  const { keys, labels } = synthetic();
  const val = stratifiedSplit(keys, labels, 0.1, 7);
  const labelOf = new Map(keys.map((k, i) => [k, labels[i]!]));
  const perClass = [0, 0, 0];
  for (const k of val) perClass[labelOf.get(k)!]!++;
  assert.deepEqual(perClass, [60, 30, 10]);
});

test('the split is deterministic under its seed and independent of load order; another seed draws another set', () => {
  const { keys, labels } = synthetic();
  const a = stratifiedSplit(keys, labels, 0.1, 7);
  const order = keys.map((_, i) => i).reverse();
  const b = stratifiedSplit(order.map((i) => keys[i]!), order.map((i) => labels[i]!), 0.1, 7);
  assert.deepEqual(a, b);
  const c = stratifiedSplit(keys, labels, 0.1, 8);
  assert.notDeepEqual(a, c);
  assert.deepEqual([...a].sort(), a, 'returned sorted');
});

test('applySplit gives disjoint train and validation sets that together are the input', () => {
  const n = 50;
  const data: FerDataset = {
    split: 'train',
    images: Uint8Array.from({ length: n * 48 * 48 }, (_, i) => Math.floor(i / (48 * 48))),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 7),
    sources: Array.from({ length: n }, (_, i) => `/d/train/x/${i}.jpg`),
    skipped: [],
  };
  const keys = data.sources.map((s) => splitKey('/d', s, false));
  assert.equal(keys[3], 'train/x/3.jpg');
  const val = new Set(stratifiedSplit(keys, data.labels, 0.2, 1));
  const r = applySplit(data, keys, val);
  assert.equal(r.train.labels.length + r.validation.labels.length, n);
  assert.equal(r.validation.labels.length, val.size);
  assert.equal(r.validation.split, 'validation');
  const trainSet = new Set(r.train.sources);
  for (const s of r.validation.sources) assert.ok(!trainSet.has(s), `${s} in both`);
  // images travel with their labels and sources
  r.validation.sources.forEach((s, j) => {
    const i = Number(path.basename(s, '.jpg'));
    assert.equal(r.validation.labels[j], i % 7);
    assert.equal(r.validation.images[j * 48 * 48], i);
  });
});

test('csv keys are <file name>:<line>; the list file round-trips (comments and blank lines ignored)', () => {
  assert.equal(splitKey('/data/fer2013.csv', '/data/fer2013.csv:17', true), 'fer2013.csv:17');
  assert.throws(() => splitKey('/x.csv', '/x.csv', true), /no :<line>/);
  const keys = ['train/angry/a.jpg', 'train/sad/b.jpg', 'fer2013.csv:9'];
  const text = formatSplitFile(keys, ['made by a test']);
  assert.match(text, /^# made by a test\n/);
  assert.deepEqual(parseSplitFile(text + '\n\n'), keys);
  assert.deepEqual(parseSplitFile(text.replace(/\n/g, '\r\n')), keys);
});

test('a csv gets its own list on first use, by line, and the second use reads it back', async () => {
  const csv = path.join(tmp, 'fer2013.csv');
  const px = Array.from({ length: 48 * 48 }, () => '7').join(' ');
  const rows = ['emotion,pixels,Usage'];
  for (let i = 0; i < 70; i++) rows.push(`${i % 7},${px},Training`);
  rows.push(`3,${px},PublicTest`);
  await writeFile(csv, rows.join('\n') + '\n');
  const data = await loadFer2013(csv, 'train');
  const file = path.join(tmp, 'splits', 'csv-val.txt');
  const first = await splitTraining(data, { dataPath: csv, isCsv: true, file, fraction: 0.2, seed: 3 });
  assert.equal(first.created, true);
  assert.equal(first.validation.labels.length, 14);
  const listed = parseSplitFile(await readFile(file, 'utf8'));
  assert.equal(listed.length, 14);
  for (const k of listed) assert.match(k, /^fer2013\.csv:\d+$/);
  const again = await splitTraining(data, { dataPath: csv, isCsv: true, file, fraction: 0.5, seed: 99 });
  assert.equal(again.created, false);
  assert.deepEqual(again.validation.sources, first.validation.sources);
});

test('a list that does not match the data is an error, not a silent empty validation set', async () => {
  const data: FerDataset = { split: 'train', images: new Uint8Array(2 * 48 * 48), labels: Uint8Array.from([0, 1]), sources: ['/d/train/a/1.jpg', '/d/train/b/2.jpg'], skipped: [] };
  const file = path.join(tmp, 'wrong.txt');
  await writeFile(file, formatSplitFile(['fer2013.csv:2']));
  await assert.rejects(splitTraining(data, { dataPath: '/d', isCsv: false, file }), /none of its 1 keys/);
  await writeFile(file, formatSplitFile(['train/a/1.jpg', 'train/a/404.jpg']));
  await assert.rejects(splitTraining(data, { dataPath: '/d', isCsv: false, file }), /1 of its 2 keys are not/);
  const partial = await splitTraining(data, { dataPath: '/d', isCsv: false, file, partial: true });
  assert.equal(partial.validation.labels.length, 1);
});

test('the committed list is ~10% of FER2013 Training per class, sorted, and is what the seeded draw gives', async () => {
  const listed = parseSplitFile(await readFile(path.join(REPO, 'models/splits/fer2013-val.txt'), 'utf8'));
  const totals: Record<string, number> = { angry: 3995, disgust: 436, fear: 4097, happy: 7215, sad: 4830, surprise: 3171, neutral: 4965 };
  const per: Record<string, number> = {};
  for (const k of listed) {
    const m = /^train\/([a-z]+)\/Training_\d+\.jpg$/.exec(k);
    assert.ok(m, `bad key ${k}`);
    per[m[1]!] = (per[m[1]!] ?? 0) + 1;
  }
  for (const [c, n] of Object.entries(totals)) assert.equal(per[c], Math.round(n * 0.1), c);
  assert.deepEqual([...listed].sort(), listed);
  assert.equal(new Set(listed).size, listed.length);
  // re-drawn from the data folder's file names (no decoding needed) with the documented fraction and seed
  const keys: string[] = [];
  const labels: number[] = [];
  for (const [c, name] of Object.keys(totals).entries()) {
    for (const f of (await readdir(path.join(FER, 'train', name))).filter((f) => f.endsWith('.jpg'))) {
      keys.push(`train/${name}/${f}`);
      labels.push(c);
    }
  }
  assert.deepEqual(stratifiedSplit(keys, labels, DEFAULT_VAL_FRACTION, DEFAULT_SPLIT_SEED), listed);
});
