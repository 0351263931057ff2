/**
 * model/update on the device, through the command bus: only a signed, intact, loadable model that passes its
 * reference faces is installed; each refusal says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CommandBus } from '../../src/remote/bus.js';
import { RemoteStore } from '../../src/remote/store.js';
import type { ModelUpdateParams } from '../../src/contract/remote.js';
import { checkCandidate, receiveModelUpdate } from '../../src/remote/model-receive.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { signModel } from '../../src/fleet/signing.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { tempDir } from '../mqtt/helpers/mosquitto.js';
import { FakeHost, remoteConfig } from '../remote/helpers.js';

const MODEL = new URL('../../models/deep_emotion.int8.onnx', import.meta.url).pathname;
const model = readFileSync(MODEL);
const manifestText = readFileSync(MODEL.replace(/\.onnx$/, '.json'), 'utf8');
const referenceText = readFileSync(MODEL.replace(/\.onnx$/, '.reference.json'), 'utf8');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');

function request(m: Buffer, man: string, sig: string, reference: string | null = referenceText): ModelUpdateParams {
  return { manifest: man, signature: sig, model: m.toString('base64'), sha256: sha256Hex(m), size: m.length, ...(reference !== null ? { reference } : {}) };
}
const signedFor = (m: Buffer, man = manifestText) => JSON.stringify(signModel(m, man, privateKey));

function device() {
  const dir = tempDir('model-update');
  const keyFile = path.join(dir, 'fleet.pub');
  writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  const host = new FakeHost(remoteConfig({ remote: { enabled: true, modelKey: keyFile } }, dir));
  let loads = 0;
  host.modelUpdate = (p: unknown) =>
    receiveModelUpdate(p as ModelUpdateParams, {
      modelKeyFile: keyFile,
      dataDir: dir,
      maxBytes: 16 << 20,
      check: (onnx, reference) => {
        loads += 1;
        return checkCandidate(onnx, MODEL, reference);
      },
    });
  const bus = new CommandBus({ deviceId: 'k1', host, store: new RemoteStore(dir) });
  return { dir, bus, loads: () => loads };
}

async function update(bus: CommandBus, params: unknown) {
  return (await bus.handle('model/update', Buffer.from(JSON.stringify({ ...(params as object), transaction: 'u' })))).response;
}

test('a signed model is verified, loaded in a second session, passes its reference faces and is installed under the data dir', async () => {
  const d = device();
  const r = await update(d.bus, request(model, manifestText, signedFor(model)));
  assert.equal(r.status, 'ok', JSON.stringify(r));
  if (r.status !== 'ok') return;
  assert.equal(r.data.status, 'verified');
  assert.ok(existsSync(String(r.data.path)));
  assert.equal(sha256Hex(readFileSync(String(r.data.path))), sha256Hex(model));
  assert.equal(readFileSync(String(r.data.path).replace(/\.onnx$/, '.reference.json'), 'utf8'), referenceText, 'the reference faces installed beside it');
  assert.deepEqual({ ...(r.data.reference as object), msPerFace: 0, currentMsPerFace: 0, latencyRatio: 0 }, { faces: 48, agree: 48, agreement: 1, msPerFace: 0, currentMsPerFace: 0, latencyRatio: 0 });
  assert.equal(d.loads(), 1);
});

test('refused with its reason, nothing installed: bad signature, wrong sha256, truncated, manifest changed, corrupt in transit, signed but not a model, no or altered reference faces, fails the reference faces', async () => {
  const d = device();
  const otherKey = generateKeyPairSync('ed25519').privateKey;
  const flipped = Buffer.from(model);
  flipped[5000] = flipped[5000]! ^ 0x01;
  const truncated = model.subarray(0, model.length - 4096);
  const edited = manifestText.replace(/"version":\s*"[^"]*"/, '"version": "tampered"');
  const garbage = Buffer.alloc(4096, 7);
  const garbageManifest = manifestText;
  // a network that disagrees with the expected predictions: the untrained one, shipped with the int8 model's reference faces
  const untrained = readFileSync(await makeUntrainedModel(tempDir('mu-untrained')));
  const untrainedManifest = JSON.stringify({ ...JSON.parse(manifestText), description: 'untrained weights, signed: it must fail the reference faces' });
  const noReference = JSON.stringify({ ...JSON.parse(manifestText), reference: undefined });
  const sigOk = signedFor(model);
  const forged = JSON.parse(sigOk) as { signature: string };
  forged.signature = JSON.parse(JSON.stringify(signModel(model, manifestText, otherKey))).signature;
  const cases: [string, unknown, RegExp][] = [
    ['unsigned', request(model, manifestText, '{}'), /unsigned/],
    ['bad signature', request(model, manifestText, JSON.stringify(forged)), /bad signature/],
    ['wrong sha256', request(flipped, manifestText, sigOk), /wrong sha256/],
    ['truncated', request(truncated, manifestText, sigOk), /truncated/],
    ['manifest does not match', request(model, edited, sigOk), /manifest does not match/],
    ['corrupt in transit', { ...request(model, manifestText, sigOk), sha256: 'f'.repeat(64) }, /wrong sha256: the model received/],
    ['short in transit', { ...request(model, manifestText, sigOk), size: model.length + 10 }, /truncated/],
    ['signed but not ONNX', request(garbage, garbageManifest, signedFor(garbage, garbageManifest)), /does not load/],
    ['no reference faces in the manifest', request(model, noReference, signedFor(model, noReference), null), /has no reference faces .*make-reference-faces/],
    ['reference faces left out', request(model, manifestText, sigOk, null), /carries no reference faces/],
    ['reference faces altered', request(model, manifestText, sigOk, referenceText.replace('"expected": "fear"', '"expected": "happy"')), /reference faces do not match the manifest/],
    ['fails the reference faces', request(untrained, untrainedManifest, signedFor(untrained, untrainedManifest)), /fails the reference faces: top-1 agreement \d+\.\d% \(\d+\/48\)/],
  ];
  for (const [what, params, want] of cases) {
    const r = await update(d.bus, params);
    assert.equal(r.status, 'error', what);
    if (r.status === 'error') assert.match(r.error, want, what);
    assert.equal(r.transaction, 'u');
  }
  assert.equal(d.loads(), 2, 'only the signed non-model and the untrained network reached onnxruntime');
  const models = path.join(d.dir, 'models');
  assert.deepEqual(existsSync(models) ? readdirSync(models) : [], [], 'nothing left behind');
});
