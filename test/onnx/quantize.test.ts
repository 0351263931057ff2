/**
 * INT8 QDQ quantization: the int8 model loads in onnxruntime-node (through the runtime's own classifier), is at most
 * a third of the float file, keeps the attention/theta path and the logits in float, and agrees with the float
 * model on top-1.
 * - On the shipped models (models/deep_emotion.onnx + .int8.onnx), when present: all of PublicTest, >= 98%.
 * - Always, on a freshly exported untrained model quantized here: a 600-image PublicTest slice. Random weights give
 *   near-tied logits, so a tiny int8 error flips top-1 far more often than on a trained net (measured: 97.9-98.5%
 *   on such nets vs 99.75% on a checkpoint after one training epoch); the slice check is 97% plus a bound on the
 *   probability drift, and the 98% acceptance check runs on the shipped pair.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { EmotionClassifier } from '../../src/model/emotion-classifier.js';
import { loadManifest, manifestPathFor } from '../../src/model/manifest.js';
import { compareModels } from '../../src/onnx/agreement.js';
import { THETA_NAME } from '../../src/onnx/export.js';
import { evenlySpaced, listFaceImages } from '../../src/onnx/fer-images.js';
import { readModel } from '../../src/onnx/onnx-file.js';
import { int8PathFor, quantizeModelFile } from '../../src/onnx/quantize-model.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { fer2013Dir } from '../helpers/fixtures.js';

const FER = fer2013Dir;
const SHIPPED_FLOAT = path.resolve('models/deep_emotion.onnx');
const SHIPPED_INT8 = path.resolve('models/deep_emotion.int8.onnx');

let tmp: string;
let floatFile: string;
let int8File: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'onnx-quant-'));
  floatFile = await makeUntrainedModel(tmp, { seed: 5, thetaNoise: 0.01 });
  int8File = int8PathFor(floatFile);
  await quantizeModelFile(floatFile, int8File, { calibrationData: path.join(FER, 'train'), calibrationImages: 200 });
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('the int8 file is QDQ with int8 weights, at most a third of the float file, attention and logits float', async () => {
  const ratio = statSync(int8File).size / statSync(floatFile).size;
  assert.ok(ratio <= 1 / 3, `int8/float size ratio ${ratio.toFixed(3)}`);
  const g = await readModel(int8File);
  const ops = g.nodes.map((n) => n.opType);
  assert.ok(ops.filter((o) => o === 'QuantizeLinear').length >= 5, 'trunk activations are quantized');
  assert.ok(ops.includes('AffineGrid') && ops.includes('GridSample'), 'attention branch kept');
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const convs = g.nodes.filter((n) => n.opType === 'Conv' && !n.name.startsWith('stn/'));
  assert.equal(convs.length, 4);
  for (const c of convs) {
    const dq = g.nodes.find((n) => n.outputs[0] === c.inputs[1])!;
    assert.equal(dq.opType, 'DequantizeLinear', `${c.name} weight goes through DequantizeLinear`);
    assert.equal(inits.get(dq.inputs[0]!)!.dtype, 'int8');
    assert.equal(inits.get(dq.inputs[1]!)!.dims[0], inits.get(dq.inputs[0]!)!.dims[0], 'one scale per output channel');
    assert.deepEqual(dq.attrs.axis, { kind: 'int', value: 0 });
  }
  const theta = g.nodes.find((n) => n.outputs.includes(THETA_NAME))!;
  assert.equal(inits.get(theta.inputs[1]!)?.dtype, 'float32', 'theta layer weights stay float');
  assert.ok(!g.nodes.some((n) => n.opType === 'QuantizeLinear' && n.inputs[0]!.startsWith('stn/') && n.inputs[0] !== 'stn/warped'), 'no activation of the localisation net is quantized');
  const logitsProducer = g.nodes.find((n) => n.outputs.includes('logits'))!;
  assert.equal(logitsProducer.opType, 'Gemm', 'logits come straight from the float-output Gemm');

  const m = await loadManifest(int8File);
  assert.equal(m.quantization?.format, 'QDQ');
  assert.equal(m.quantization?.floatModel, path.basename(floatFile));
  assert.match(m.quantization!.calibration, /200 FER2013 training images/);
});

test('int8 agrees with float on top-1 on a PublicTest slice (untrained model) and loads in the runtime classifier', async (t) => {
  const images = evenlySpaced(listFaceImages(path.join(FER, 'test'), 'PublicTest_'), 600);
  const a = await compareModels(floatFile, int8File, images);
  t.diagnostic(`untrained, ${a.n} PublicTest images: top-1 agreement ${(a.top1Agreement * 100).toFixed(2)}%, max |dp| ${a.maxAbsProbDiff.toFixed(4)}`);
  assert.ok(a.top1Agreement >= 0.97, `top-1 agreement ${a.top1Agreement}`);
  assert.ok(a.maxAbsProbDiff < 0.08, `max probability change ${a.maxAbsProbDiff}`);
  const c = await EmotionClassifier.load(int8File);
  const [row] = await c.classifyRaw([new Uint8Array(48 * 48).fill(90)]);
  await c.close();
  assert.equal(row!.length, 7);
});

test('a float manifest\'s temperature is not carried to the int8 model: each model is calibrated on its own outputs', async () => {
  const hot = path.join(tmp, 'hot.onnx');
  await copyFile(floatFile, hot);
  const m = JSON.parse(await readFile(manifestPathFor(floatFile), 'utf8')) as Record<string, unknown>;
  await writeFile(manifestPathFor(hot), JSON.stringify({ ...m, file: 'hot.onnx', temperature: 0.7 }));
  const r = await quantizeModelFile(hot, path.join(tmp, 'hot.int8.onnx'), { calibrationData: path.join(FER, 'train'), calibrationImages: 10 });
  assert.equal(r.manifest.temperature, undefined);
  assert.equal((await loadManifest(path.join(tmp, 'hot.int8.onnx'))).temperature, undefined);
});

test('quantizing an already-quantized model is refused', async () => {
  await assert.rejects(quantizeModelFile(int8File, path.join(tmp, 'twice.onnx'), { calibrationData: path.join(FER, 'train'), calibrationImages: 10 }), /already quantized/);
});

test('shipped int8 model agrees with the shipped float model on >= 98% of PublicTest', { skip: !(existsSync(SHIPPED_FLOAT) && existsSync(SHIPPED_INT8)) && 'models/deep_emotion(.int8).onnx not shipped yet' }, async (t) => {
  const images = listFaceImages(path.join(FER, 'test'), 'PublicTest_');
  const a = await compareModels(SHIPPED_FLOAT, SHIPPED_INT8, images);
  t.diagnostic(`shipped models, ${a.n} PublicTest images: top-1 agreement ${(a.top1Agreement * 100).toFixed(2)}%, accuracy float ${(a.accuracyA * 100).toFixed(2)}% int8 ${(a.accuracyB * 100).toFixed(2)}%`);
  assert.ok(a.n >= 3500, `PublicTest has 3,589 images, saw ${a.n}`);
  assert.ok(a.top1Agreement >= 0.98, `top-1 agreement ${a.top1Agreement}`);
  assert.ok(statSync(SHIPPED_INT8).size <= statSync(SHIPPED_FLOAT).size / 3, 'int8 file at most a third of the float file');
  const m = await loadManifest(SHIPPED_INT8);
  assert.equal(m.quantization?.floatModel, 'deep_emotion.onnx');
});
