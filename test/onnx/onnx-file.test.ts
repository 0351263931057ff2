/** .onnx round trip through onnx-proto, and clear errors for corrupt, truncated, empty or missing model files. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { EmotionClassifier, ModelError } from '../../src/model/emotion-classifier.js';
import { exportNetwork } from '../../src/onnx/export.js';
import { decodeModel, encodeModel, OnnxFileError, readModel } from '../../src/onnx/onnx-file.js';
import { GraphRunner, OrtRunError } from '../../src/onnx/ort-runner.js';
import { randomDeepEmotion } from '../../src/onnx/random-network.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';

let tmp: string;
let modelFile: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'onnx-file-'));
  modelFile = await makeUntrainedModel(tmp);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('an exported graph survives encode -> decode unchanged (nodes, attributes, initializers, opset)', () => {
  const g = exportNetwork(randomDeepEmotion({ seed: 3, thetaNoise: 0.01 }), { run: 'x' });
  const back = decodeModel(encodeModel(g));
  assert.equal(back.opset, 20);
  assert.deepEqual(back.metadata, { run: 'x' });
  assert.deepEqual(back.nodes.map((n) => [n.opType, n.inputs, n.outputs, n.attrs]), g.nodes.map((n) => [n.opType, n.inputs, n.outputs, n.attrs]));
  assert.deepEqual(back.inputs, g.inputs);
  assert.equal(back.initializers.length, g.initializers.length);
  for (const [i, t] of g.initializers.entries()) {
    assert.equal(back.initializers[i]!.name, t.name);
    assert.deepEqual(back.initializers[i]!.dims, t.dims);
    assert.deepEqual([...back.initializers[i]!.data], [...t.data]);
  }
  const ops = new Set(g.nodes.map((n) => n.opType));
  for (const op of ['AffineGrid', 'GridSample', 'Conv', 'MaxPool', 'Gemm', 'Relu', 'Flatten']) assert.ok(ops.has(op), `graph lacks ${op}`);
  assert.ok(!ops.has('BatchNormalization'), 'batch norm after a conv must be folded into it');
});

test('the untrained model loads in the runtime classifier and gives a probability vector', async () => {
  const c = await EmotionClassifier.load(modelFile);
  const [row] = await c.classifyRaw([new Uint8Array(48 * 48).fill(100)]);
  await c.close();
  assert.equal(row!.length, 7);
  assert.ok(Math.abs(row!.reduce((a, b) => a + b, 0) - 1) < 1e-5);
});

test('a corrupt .onnx gives a clear error from the reader and from onnxruntime', async () => {
  const good = await readFile(modelFile);
  const corrupt = path.join(tmp, 'corrupt.onnx');
  const garbage = Buffer.from(good);
  for (let i = 0; i < 64; i++) garbage[(i * 7919) % 200] = 0xff; // smash the protobuf header
  await writeFile(corrupt, garbage);
  await assert.rejects(readModel(corrupt), (err: Error) => err instanceof OnnxFileError && /corrupt\.onnx is not a readable ONNX file/.test(err.message));
  await assert.rejects(GraphRunner.open(corrupt), (err: Error) => err instanceof OrtRunError && /could not load .*corrupt\.onnx/.test(err.message));
});

test('a truncated, an empty and a missing model file are each reported by name', async () => {
  const good = await readFile(modelFile);
  const truncated = path.join(tmp, 'truncated.onnx');
  await writeFile(truncated, good.subarray(0, Math.floor(good.length / 2)));
  await assert.rejects(readModel(truncated), (err: Error) => err instanceof OnnxFileError && err.message.includes('truncated.onnx'));
  await assert.rejects(GraphRunner.open(truncated), (err: Error) => err instanceof OrtRunError && err.message.includes('truncated.onnx'));

  const empty = path.join(tmp, 'empty.onnx');
  await writeFile(empty, '');
  await assert.rejects(readModel(empty), /empty.onnx is empty \(0 bytes\)/);
  await assert.rejects(readModel(path.join(tmp, 'missing.onnx')), /cannot read ONNX model .*missing\.onnx: ENOENT/);
});

test('the runtime classifier refuses a corrupt model with its manifest in place', async () => {
  const dir = path.join(tmp, 'corrupt-with-manifest');
  const file = await makeUntrainedModel(dir);
  const bytes = await readFile(file);
  await writeFile(file, bytes.subarray(0, 1000));
  await assert.rejects(EmotionClassifier.load(file), (err: Error) => err instanceof ModelError && /could not be loaded by onnxruntime/.test(err.message));
});
