import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { EMOTIONS } from '../../src/model/labels.js';
import { classCounts, DatasetError, decodeGrey48, loadFer2013, loadFer2013Csv, loadValidation, parseFer2013CsvRow } from '../../src/training/fer2013.js';
import { fer2013Dir } from '../helpers/fixtures.js';

const FER = fer2013Dir;
let tmp: string;
/** A few real images per class: [class index, file path]. */
const picked: { label: number; file: string; split: 'PublicTest' | 'Training' }[] = [];

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'fer-test-'));
  for (const [label, e] of EMOTIONS.entries()) {
    const test = (await readdir(path.join(FER, 'test', e))).sort().slice(0, 3);
    for (const f of test) picked.push({ label, file: path.join(FER, 'test', e, f), split: 'PublicTest' });
    const train = (await readdir(path.join(FER, 'train', e))).sort().slice(0, 2);
    for (const f of train) picked.push({ label, file: path.join(FER, 'train', e, f), split: 'Training' });
  }
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('folder layout: test/ holding PublicTest_ and PrivateTest_ files is split by prefix', async () => {
  const root = path.join(tmp, 'folder');
  for (const [i, p] of picked.entries()) {
    const e = EMOTIONS[p.label]!;
    const dir = path.join(root, p.split === 'Training' ? 'train' : 'test', e);
    await mkdir(dir, { recursive: true });
    // the second and third test image of each class become "PrivateTest_" files
    const name = p.split === 'Training' ? path.basename(p.file) : i % 5 === 0 ? path.basename(p.file) : path.basename(p.file).replace('PublicTest_', 'PrivateTest_');
    await copyFile(p.file, path.join(dir, name));
  }
  const train = await loadFer2013(root, 'train');
  const pub = await loadFer2013(root, 'PublicTest');
  const priv = await loadFer2013(root, 'PrivateTest');
  const all = await loadFer2013(root, 'test');
  assert.deepEqual(classCounts(train.labels), [2, 2, 2, 2, 2, 2, 2]);
  assert.deepEqual(classCounts(pub.labels), [1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(classCounts(priv.labels), [2, 2, 2, 2, 2, 2, 2]);
  assert.equal(all.labels.length, 21);
  assert.ok(pub.sources.every((s) => path.basename(s).startsWith('PublicTest_')));
  assert.ok(priv.sources.every((s) => path.basename(s).startsWith('PrivateTest_')));
  assert.equal(pub.images.length, 7 * 48 * 48);
  // pixels are the decoded JPEG's
  const first = decodeGrey48(await readFile(pub.sources[0]!));
  assert.deepEqual(pub.images.subarray(0, 48 * 48), first);
  assert.equal((await loadValidation(root)).split, 'PublicTest');
});

test('folder layout: a corrupt and a wrong-sized image are reported with their path and skipped', async () => {
  const root = path.join(tmp, 'bad');
  const dir = path.join(root, 'train', 'happy');
  await mkdir(dir, { recursive: true });
  const good = picked.find((p) => p.label === 3 && p.split === 'Training')!;
  await copyFile(good.file, path.join(dir, 'Training_ok.jpg'));
  const bytes = await readFile(good.file);
  await writeFile(path.join(dir, 'Training_truncated.jpg'), bytes.subarray(0, 120));
  await writeFile(path.join(dir, 'Training_text.jpg'), 'not a jpeg at all');
  const ds = await loadFer2013(root, 'train');
  assert.equal(ds.labels.length, 1);
  assert.equal(ds.labels[0], 3);
  const problems = ds.skipped.filter((s) => s.includes('Training_'));
  assert.equal(problems.length, 2, ds.skipped.join('\n'));
  assert.ok(problems.some((s) => s.startsWith(path.join(dir, 'Training_truncated.jpg') + ': not a readable JPEG')), problems.join('\n'));
  assert.ok(problems.some((s) => s.startsWith(path.join(dir, 'Training_text.jpg') + ': not a readable JPEG')), problems.join('\n'));
  // the six missing class folders are reported too
  assert.equal(ds.skipped.filter((s) => s.includes('class folder missing')).length, 6);
  await assert.rejects(loadFer2013(root, 'train', { strict: true }), (err: Error) => err instanceof DatasetError && err.message.includes('Training_t'));
});

test('decodeGrey48 rejects a wrong-sized image with its size', async () => {
  const jpeg = (await import('jpeg-js')).default;
  const big = jpeg.encode({ width: 64, height: 40, data: Buffer.alloc(64 * 40 * 4, 128) }, 90).data;
  assert.throws(() => decodeGrey48(big), /wrong size 64x40, expected 48x48/);
});

async function writeCsv(file: string, extraRows: string[] = []): Promise<void> {
  const lines = ['emotion,pixels,Usage'];
  for (const p of picked) {
    const px = decodeGrey48(await readFile(p.file));
    lines.push(`${p.label},${Array.from(px).join(' ')},${p.split}`);
  }
  lines.push(...extraRows);
  await writeFile(file, lines.join('\n') + '\n');
}

test("Kaggle fer2013.csv: splits by Usage, same pixels as the images it was written from", async () => {
  const file = path.join(tmp, 'fer2013.csv');
  await writeCsv(file);
  const train = await loadFer2013(file, 'train');
  const pub = await loadFer2013Csv(file, 'PublicTest');
  assert.deepEqual(classCounts(train.labels), [2, 2, 2, 2, 2, 2, 2]);
  assert.deepEqual(classCounts(pub.labels), [3, 3, 3, 3, 3, 3, 3]);
  const firstPub = picked.find((p) => p.split === 'PublicTest')!;
  assert.deepEqual(pub.images.subarray(0, 48 * 48), decodeGrey48(await readFile(firstPub.file)));
  assert.match(pub.sources[0]!, /fer2013\.csv:2$/);
  await assert.rejects(loadFer2013Csv(file, 'PrivateTest'), /no PrivateTest rows/);
});

test('Kaggle fer2013.csv: a malformed row is reported with file and line, and skipped', async () => {
  const file = path.join(tmp, 'bad.csv');
  const shortRow = `3,${Array.from({ length: 100 }, () => '7').join(' ')},Training`;
  const badLabel = `9,${Array.from({ length: 2304 }, () => '7').join(' ')},Training`;
  await writeCsv(file, [shortRow, badLabel]);
  const n = picked.length;
  const train = await loadFer2013Csv(file, 'train');
  assert.equal(train.labels.length, 14);
  assert.deepEqual(train.skipped, [
    `${file}:${n + 2}: expected 2304 pixels (48x48), found 100`,
    `${file}:${n + 3}: emotion "9" is not an integer 0..6`,
  ]);
  await assert.rejects(loadFer2013Csv(file, 'train', { strict: true }), new RegExp(`bad\\.csv:${n + 2}: expected 2304 pixels`));
  await writeFile(path.join(tmp, 'noheader.csv'), '0,1 2 3,Training\n');
  await assert.rejects(loadFer2013Csv(path.join(tmp, 'noheader.csv'), 'train'), /noheader\.csv:1: header is/);
  assert.throws(() => parseFer2013CsvRow('0,1 2 x,Training'), /expected 2304 pixels/);
});

test('missing data gives an actionable error', async () => {
  await assert.rejects(loadFer2013(path.join(tmp, 'nope'), 'train'), /FER2013 data not found at .*nope/);
  await mkdir(path.join(tmp, 'empty'), { recursive: true });
  await assert.rejects(loadFer2013(path.join(tmp, 'empty'), 'train'), /train.*not found/);
});
