/** Model signing: what `fleet sign` writes, a device accepts; every tampering is refused with its reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keygenFiles, signFiles, signModel, verifyFiles, verifyModel } from '../../src/fleet/signing.js';
import { tempDir } from '../mqtt/helpers/mosquitto.js';

const MODEL = new URL('../../models/deep_emotion.int8.onnx', import.meta.url).pathname;
const model = readFileSync(MODEL);
const manifestText = readFileSync(MODEL.replace(/\.onnx$/, '.json'), 'utf8');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signed = signModel(model, manifestText, privateKey);
const sigText = JSON.stringify(signed);

test('a signed model verifies with the trusted key', () => {
  const r = verifyModel(model, manifestText, sigText, [publicKey]);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(signed.statement.modelSize, model.length);
});

test('refused, each with its reason: no trusted key, unsigned, another key, bad signature, truncated, wrong sha256, manifest changed', () => {
  const other = generateKeyPairSync('ed25519');
  const flipped = Buffer.from(model);
  flipped[1000] = flipped[1000]! ^ 0xff;
  const tamperedStatement = JSON.stringify({ ...signed, statement: { ...signed.statement, version: 'evil' } });
  const editedManifest = manifestText.replace('"normalization"', '"normalization" ').replace(/\s+$/, '') + ' ';
  const cases: [string, ReturnType<typeof verifyModel>, RegExp][] = [
    ['no key', verifyModel(model, manifestText, sigText, []), /no trusted model key.*fleet keygen.*remote\.modelKey/],
    ['unsigned (not JSON)', verifyModel(model, manifestText, 'garbage', [publicKey]), /^unsigned/],
    ['unsigned (no statement)', verifyModel(model, manifestText, '{}', [publicKey]), /^unsigned/],
    ['untrusted key', verifyModel(model, manifestText, JSON.stringify(signModel(model, manifestText, other.privateKey)), [publicKey]), /does not trust/],
    ['bad signature', verifyModel(model, manifestText, tamperedStatement, [publicKey]), /^bad signature/],
    ['truncated', verifyModel(model.subarray(0, model.length - 100), manifestText, sigText, [publicKey]), /truncated/],
    ['wrong sha', verifyModel(flipped, manifestText, sigText, [publicKey]), /^wrong sha256/],
    ['manifest', verifyModel(model, editedManifest, sigText, [publicKey]), /manifest does not match/],
  ];
  for (const [what, r, want] of cases) {
    assert.equal(r.ok, false, what);
    if (!r.ok) assert.match(r.reason, want, what);
  }
});

test('keygen / sign / verify on files (what the CLI runs)', () => {
  const dir = tempDir('sign');
  const k = keygenFiles(path.join(dir, 'fleet'));
  assert.equal(statSync(k.privateFile).mode & 0o777, 0o600);
  assert.throws(() => keygenFiles(path.join(dir, 'fleet')), /EEXIST/, 'never overwrites a key');
  const onnx = path.join(dir, 'deep_emotion.int8.onnx');
  copyFileSync(MODEL, onnx);
  copyFileSync(MODEL.replace(/\.onnx$/, '.json'), path.join(dir, 'deep_emotion.int8.json'));
  assert.match((verifyFiles(onnx, [k.publicFile]) as { reason: string }).reason, /^unsigned: .*not found/);
  signFiles(onnx, k.privateFile);
  assert.ok(verifyFiles(onnx, [k.publicFile]).ok);
  writeFileSync(onnx, readFileSync(onnx).subarray(0, 5000));
  assert.match((verifyFiles(onnx, [k.publicFile]) as { reason: string }).reason, /truncated/);
});
