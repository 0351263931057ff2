/**
 * Reference faces (issue 15): the sets that ship beside the models in models/, the pure agreement and judgement, and
 * the device's check with real models: the model itself passes its own set; the untrained network refuses with the
 * figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkCandidate, ModelUpdateRefused } from '../../src/remote/model-receive.js';
import { agreementOf, judgeReference, parseReferenceSet, referencePathFor, type ReferenceCrops, type ReferenceFigures } from '../../src/model/reference-faces.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { EMOTIONS, type Emotion, type EmotionScores } from '../../src/model/labels.js';
import { manifestSchema } from '../../src/model/manifest.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { tempDir } from '../mqtt/helpers/mosquitto.js';

const MODELS = new URL('../../models/', import.meta.url).pathname;
const INT8 = path.join(MODELS, 'deep_emotion.int8.onnx');

function shipped(onnx: string): { text: string; crops: ReferenceCrops; declared: { file: string; sha256: string; faces: number } } {
  const manifest = manifestSchema.parse(JSON.parse(readFileSync(onnx.replace(/\.onnx$/, '.json'), 'utf8')));
  assert.ok(manifest.reference, `${onnx}: the manifest names its reference faces`);
  assert.equal(path.join(MODELS, manifest.reference.file), referencePathFor(onnx));
  const text = readFileSync(referencePathFor(onnx), 'utf8');
  return { text, crops: parseReferenceSet(text, manifest.reference, 48).crops, declared: manifest.reference };
}

const scoresFor = (e: Emotion): EmotionScores => {
  const s = Object.fromEntries(EMOTIONS.map((x) => [x, 0.05])) as EmotionScores;
  s[e] = 0.7;
  return s;
};

test('the shipped models carry reference faces: the manifest field matches the file beside the model (sha256, count, 48x48)', () => {
  for (const f of ['deep_emotion.int8.onnx', 'deep_emotion.onnx']) {
    const { crops, declared } = shipped(path.join(MODELS, f));
    assert.equal(crops.crops.length, declared.faces);
    assert.ok(crops.crops.length >= 24, 'a few dozen faces');
    assert.ok(crops.crops.every((c) => c.length === 48 * 48));
    const set = JSON.parse(readFileSync(referencePathFor(path.join(MODELS, f)), 'utf8')) as { model: { sha256: string }; made: { sources: string[] } };
    assert.equal(set.model.sha256, sha256Hex(readFileSync(path.join(MODELS, f))), 'made by this very model');
    assert.ok(set.made.sources.every((s) => !/fer/i.test(s)), 'no FER2013 image in the set');
  }
});

test('parseReferenceSet refuses a file that is not the one the manifest names, or crops of another size', () => {
  const { text, declared } = shipped(INT8);
  assert.throws(() => parseReferenceSet(text.replace('"expected": "fear"', '"expected": "happy"'), declared, 48), /do not match the manifest \(sha256/);
  assert.throws(() => parseReferenceSet(text, { ...declared, faces: declared.faces + 1 }, 48), /has 48 faces, the manifest says 49/);
  assert.throws(() => parseReferenceSet(text, declared, 64), /crops are 48x48, the model takes 64x64/);
  assert.throws(() => parseReferenceSet('{"format": 1}', { ...declared, sha256: sha256Hex(Buffer.from('{"format": 1}')) }, 48), /reference faces are invalid: format/);
});

test('agreement and judgement: >= 99% top-1 agreement and at most 2x the latency pass; each failure is named with its figures', () => {
  const ref: ReferenceCrops = { ids: ['a', 'b', 'c', 'd'], crops: [0, 1, 2, 3].map(() => new Uint8Array(4)), expected: ['happy', 'sad', 'fear', 'neutral'] };
  const all = agreementOf(ref, ref.expected.map(scoresFor));
  assert.deepEqual(all, { faces: 4, agree: 4, agreement: 1, disagreements: [] });
  const one = agreementOf(ref, (['happy', 'sad', 'angry', 'neutral'] as Emotion[]).map(scoresFor));
  assert.deepEqual(one.disagreements, [{ id: 'c', expected: 'fear', got: 'angry' }]);
  const figures = (over: Partial<ReferenceFigures>): ReferenceFigures => ({ ...all, candidateMsPerFace: 3, currentMsPerFace: 2, latencyRatio: 1.5, ...over });
  assert.equal(judgeReference(figures({})), null);
  assert.equal(judgeReference(figures({ latencyRatio: 2, candidateMsPerFace: 4 })), null, 'exactly 2x passes');
  assert.match(judgeReference(figures({ ...one }))!, /^fails the reference faces: top-1 agreement 75\.0% \(3\/4\) with the expected predictions, below 99\.0% \(c: fear -> angry\)$/);
  assert.match(judgeReference(figures({ candidateMsPerFace: 5, latencyRatio: 2.5 }))!, /5\.00 ms per face, 2\.50x the current model's 2\.00 ms \(at most 2x\)/);
  const both = judgeReference(figures({ ...one, latencyRatio: 3 }))!;
  assert.match(both, /agreement 75\.0%.*; .*3\.00x/);
  assert.throws(() => agreementOf(ref, []), /0 results for 4 reference faces/);
});

test('the device check: the shipped model passes its own reference faces; the untrained network is refused with the figures', async (t) => {
  const { crops } = shipped(INT8);
  const pass = await checkCandidate(INT8, INT8, crops);
  assert.equal(pass.agree, pass.faces, 'the model agrees with its own expected predictions');
  t.diagnostic(`int8 on its own set: ${pass.agree}/${pass.faces}, ${pass.candidateMsPerFace.toFixed(2)} ms per face vs ${pass.currentMsPerFace.toFixed(2)} (ratio ${pass.latencyRatio.toFixed(2)})`);

  const floatOnInt8 = await checkCandidate(path.join(MODELS, 'deep_emotion.onnx'), INT8, crops).catch((e: Error) => e);
  t.diagnostic(`the float model on the int8 set: ${floatOnInt8 instanceof Error ? floatOnInt8.message : `${floatOnInt8.agree}/${floatOnInt8.faces}`}`);

  const untrained = await makeUntrainedModel(tempDir('ref-untrained'));
  const refused = await checkCandidate(untrained, INT8, crops).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(refused instanceof ModelUpdateRefused, String(refused));
  assert.match(refused.message, /^refused: fails the reference faces: top-1 agreement \d+\.\d% \(\d+\/48\) with the expected predictions, below 99\.0% \(/);
  t.diagnostic(refused.message);

  const notOnnx = path.join(tempDir('ref-garbage'), 'x.onnx');
  const err = await checkCandidate(notOnnx, INT8, crops).catch((e: Error) => e);
  assert.match(String(err), /refused: signed, but it does not load/);
});
