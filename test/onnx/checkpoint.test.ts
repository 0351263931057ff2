/** The checkpoint reader: training's files -> network description, with clear errors for broken checkpoints. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { networkFromCheckpoint, readCheckpoint, CheckpointReadError } from '../../src/onnx/checkpoint.js';
import { parameterCount } from '../../src/onnx/network.js';
import { saveCheckpoint } from '../../src/training/checkpoint.js';
import { DeepEmotion, defaultModelConfig } from '../../src/training/model.js';

let tmp: string;
let ck: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'onnx-ck-'));
  ck = path.join(tmp, 'good');
  const model = new DeepEmotion(defaultModelConfig({ width: 8, hidden: 20 }), 4);
  await saveCheckpoint(ck, model, { epoch: 2, optimizerStep: 10, seed: 4, bestValAcc: 0.3, bestEpoch: 2, epochsWithoutImprovement: 0, history: [], options: {}, backend: 'cpu', savedAt: '' });
  model.dispose();
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function copyCk(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await import('node:fs/promises').then((fs) => fs.cp(ck, dir, { recursive: true }));
  return dir;
}

test('reads every weight of a training checkpoint and builds the network', async () => {
  const c = await readCheckpoint(ck);
  assert.equal(c.config.width, 8);
  assert.equal(c.state?.epoch, 2);
  const net = networkFromCheckpoint(c);
  assert.equal(net.classes, 7);
  assert.ok(net.attention);
  let expected = 0;
  for (const [, w] of c.weights) expected += w.data.length;
  // batch-norm moving statistics are not counted as parameters
  const stats = [...c.weights.keys()].filter((k) => /moving/.test(k)).reduce((s, k) => s + c.weights.get(k)!.data.length, 0);
  assert.equal(parameterCount(net), expected - stats);
});

test('an interrupted save (only <dir>.old left) is still found', async () => {
  const dir = await copyCk('moved');
  await rename(dir, `${dir}.old`);
  const c = await readCheckpoint(dir);
  assert.equal(c.dir, `${dir}.old`);
});

test('missing folder, truncated weights, wrong shapes and unknown weights are clear errors', async () => {
  await assert.rejects(readCheckpoint(path.join(tmp, 'nope')), /no checkpoint at .*nope: model.json missing/);

  const trunc = await copyCk('trunc');
  const bin = await readFile(path.join(trunc, 'weights.bin'));
  await writeFile(path.join(trunc, 'weights.bin'), bin.subarray(0, bin.length - 100));
  await assert.rejects(readCheckpoint(trunc), (e: Error) => e instanceof CheckpointReadError && /weights.bin is truncated/.test(e.message));

  const shape = await copyCk('shape');
  const cfg = JSON.parse(await readFile(path.join(shape, 'model.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(path.join(shape, 'model.json'), JSON.stringify({ ...cfg, width: 9 }));
  const wrong = await readCheckpoint(shape);
  assert.throws(() => networkFromCheckpoint(wrong), (e: Error) => e instanceof CheckpointReadError && /weight conv1.kernel has shape \[3,3,1,8\], expected \[3,3,1,9\]/.test(e.message));

  const mismatch = await copyCk('mismatch');
  await writeFile(path.join(mismatch, 'model.json'), JSON.stringify({ ...cfg, batchNorm: 'original' }));
  const other = await readCheckpoint(mismatch);
  assert.throws(() => networkFromCheckpoint(other), (e: Error) => e instanceof CheckpointReadError && /weight conv1.bias missing \(model.json implies it: width 8, batchNorm original/.test(e.message));

  const extra = await copyCk('extra');
  const specs = JSON.parse(await readFile(path.join(extra, 'weights.json'), 'utf8')) as unknown[];
  await writeFile(path.join(extra, 'weights.json'), JSON.stringify([...specs, { name: 'conv5.kernel', shape: [2], dtype: 'float32' }]));
  await writeFile(path.join(extra, 'weights.bin'), Buffer.concat([await readFile(path.join(extra, 'weights.bin')), Buffer.alloc(8)]));
  const more = await readCheckpoint(extra);
  assert.throws(() => networkFromCheckpoint(more), (e: Error) => e instanceof CheckpointReadError && /weights \[conv5.kernel\] are not used by the Deep_Emotion exporter/.test(e.message));

  const badCfg = await copyCk('badcfg');
  await writeFile(path.join(badCfg, 'model.json'), JSON.stringify({ ...cfg, arch: 'resnet' }));
  await assert.rejects(readCheckpoint(badCfg), /model.json: arch/);
});
