/**
 * The operator's side of `model/update` (issue 15): the request for a signed model on disk and its size on the wire.
 * Transport: over MQTT itself, one request of JSON fields ({manifest, signature, model (base64), sha256, size,
 * reference}); the broker must accept a message of updateRequestBytes() (about the model's size * 4/3 + 200 KB; the
 * fleet CLI checks it against the broker's limit before sending, src/fleet/broker-limit.ts). The device's side
 * (checks, verification, the reference faces) is src/remote/model-receive.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { manifestPathFor, manifestSchema } from '../model/index.js';
import type { ModelUpdateParams } from '../contract/index.js';
import { sha256Hex } from '../util/index.js';
import { signaturePathFor } from './signing.js';


/** The request a `fleet` operator sends for a signed model on disk. */
export function modelUpdateRequest(onnxPath: string): ModelUpdateParams {
  const model = readFileSync(onnxPath);
  const manifest = readFileSync(manifestPathFor(onnxPath), 'utf8');
  const ref = manifestSchema.safeParse(JSON.parse(manifest)).data?.reference;
  return {
    manifest,
    signature: readFileSync(signaturePathFor(onnxPath), 'utf8'),
    model: model.toString('base64'),
    sha256: sha256Hex(model),
    size: model.length,
    ...(ref ? { reference: readFileSync(path.join(path.dirname(onnxPath), ref.file), 'utf8') } : {}),
  };
}

/** The bytes of a model/update request on the wire (its JSON with a transaction): what the broker must allow. */
export function updateRequestBytes(p: ModelUpdateParams): number {
  return Buffer.byteLength(JSON.stringify({ ...p, transaction: '00000000-0000-0000-0000-000000000000' }), 'utf8');
}
