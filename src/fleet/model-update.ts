/**
 * The device's side of `model/update` (issue 15), up to and including verification: size, sha256 and signature come
 * before anything else touches the bytes; then the model goes to its own folder under the data dir and is loaded in
 * a second onnxruntime session with the existing manifest checks (EmotionClassifier.load) while the current model
 * keeps serving. Any failure refuses the update with its reason and leaves nothing behind.
 *
 * Transport: over MQTT itself, one request of base64 fields ({manifest, signature, model, sha256, size}); the broker
 * must accept messages of the model's size * 4/3 + a few KiB (mosquitto: message_size_limit, 0 = its 256 MiB
 * maximum; the kiosk refuses more than remote.maxModelBytes).
 *
 * Not yet here: the reference-face check, the live switch between frames and the automatic rollback (README).
 */
import { createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { manifestPathFor } from '../model/manifest.js';
import { RequestError } from '../remote/bus.js';
import { parsePublicKey, sha256Hex, signaturePathFor, verifyModel } from './signing.js';

export interface ModelUpdateParams {
  manifest: string;
  signature: string;
  model: string;
  sha256: string;
  size: number;
}

export class ModelUpdateRefused extends RequestError {}

export interface ModelUpdateOptions {
  /** remote.modelKey: the trusted public key file. */
  modelKeyFile: string;
  dataDir: string;
  maxBytes: number;
  /** Loads a model in a second session with the manifest checks, then releases it (EmotionClassifier.load + close). */
  tryLoad: (onnxPath: string) => Promise<void>;
}

/** The request a `fleet` operator sends for a signed model on disk. */
export function modelUpdateRequest(onnxPath: string): ModelUpdateParams {
  const model = readFileSync(onnxPath);
  return {
    manifest: readFileSync(manifestPathFor(onnxPath), 'utf8'),
    signature: readFileSync(signaturePathFor(onnxPath), 'utf8'),
    model: model.toString('base64'),
    sha256: sha256Hex(model),
    size: model.length,
  };
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);

export async function receiveModelUpdate(p: ModelUpdateParams, o: ModelUpdateOptions): Promise<Record<string, unknown>> {
  let key;
  try {
    key = parsePublicKey(readFileSync(o.modelKeyFile, 'utf8'), `remote.modelKey ${o.modelKeyFile}`);
  } catch (err) {
    throw new ModelUpdateRefused(`refused: the trusted key cannot be read: ${(err as Error).message}`);
  }
  if (p.size > o.maxBytes) throw new ModelUpdateRefused(`refused: the model is ${p.size} bytes, more than remote.maxModelBytes (${o.maxBytes})`);
  // base64: 4 characters per 3 bytes; check the length before decoding anything
  if (p.model.length > Math.ceil(o.maxBytes / 3) * 4 + 4) throw new ModelUpdateRefused(`refused: the model field is longer than remote.maxModelBytes allows`);
  const model = Buffer.from(p.model, 'base64');
  if (model.length !== p.size) throw new ModelUpdateRefused(`refused: received ${model.length} bytes, the request says ${p.size}${model.length < p.size ? ' (truncated)' : ''}`);
  if (sha256Hex(model) !== p.sha256) throw new ModelUpdateRefused(`refused: wrong sha256: the model received is ${sha256Hex(model)}, the request says ${p.sha256}`);
  const v = verifyModel(model, p.manifest, p.signature, [key]);
  if (!v.ok) throw new ModelUpdateRefused(`refused: ${v.reason}`);

  const { name, version, file } = v.statement;
  const root = path.join(o.dataDir, 'models');
  const folder = path.join(root, `${safeName(name)}-${safeName(version)}`);
  const staging = `${folder}.incoming-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const onnx = path.join(staging, path.basename(file));
  try {
    writeFileSync(onnx, model);
    writeFileSync(manifestPathFor(onnx), p.manifest);
    writeFileSync(signaturePathFor(onnx), p.signature);
    try {
      await o.tryLoad(onnx);
    } catch (err) {
      throw new ModelUpdateRefused(`refused: signed, but it does not load: ${(err as Error).message}`);
    }
    rmSync(folder, { recursive: true, force: true });
    renameSync(staging, folder);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  return {
    status: 'verified',
    name,
    version,
    sha256: v.statement.modelSha256,
    keyId: keyIdOf(o.modelKeyFile),
    path: path.join(folder, path.basename(file)),
    active: false,
    note: 'verified and installed; the live switch is not implemented yet (the current model keeps serving)',
  };
}

function keyIdOf(file: string): string {
  return sha256Hex(createPublicKey(readFileSync(file, 'utf8')).export({ type: 'spki', format: 'der' })).slice(0, 16);
}
