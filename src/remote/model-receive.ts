/**
 * The device's side of `model/update` (issue 15), up to and including verification: size, sha256 and signature come
 * before anything else touches the bytes; then the model goes to its own folder under the data dir and is loaded in
 * a second onnxruntime session with the existing manifest checks (EmotionClassifier.load) while the current model
 * keeps serving. Any failure refuses the update with its reason and leaves nothing behind.
 *
 * Then the candidate is run on the reference faces that ship with it (src/model/reference-faces.ts: the manifest
 * names the file and its sha256, so the signature covers them) against the current model: top-1 agreement with the
 * expected predictions >= 99% and per-face latency within 2x, else refused with the figures. The operator's side
 * (the request, its size on the wire) is src/fleet/model-update.ts; the live switch and the rollback are
 * src/remote/kiosk-host.ts.
 */
import { createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parsePublicKey, signaturePathFor, verifyModel } from '../fleet/index.js';
import { EmotionClassifier, manifestPathFor, type ModelManifest, judgeReference, parseReferenceSet, runReferenceCheck, type ReferenceCrops, type ReferenceFigures } from '../model/index.js';
import type { ModelUpdateParams } from '../contract/index.js';
import { sha256Hex } from '../util/index.js';
import { RequestError } from './bus.js';

export class ModelUpdateRefused extends RequestError {}

export interface ModelUpdateOptions {
  /** remote.modelKey: the trusted public key file. */
  modelKeyFile: string;
  dataDir: string;
  maxBytes: number;
  /**
   * Loads the candidate in a second session with the manifest checks and runs it on its reference faces against the
   * current model (checkCandidate); returns the figures, throws ModelUpdateRefused when they fail.
   */
  check: (onnxPath: string, reference: ReferenceCrops) => Promise<ReferenceFigures>;
}

/**
 * The device's check of a candidate: a second onnxruntime session with the manifest checks, then the reference
 * faces against the current model (loaded once more, so both run with one thread while the pipeline goes on).
 */
export async function checkCandidate(onnxPath: string, currentPath: string, reference: ReferenceCrops): Promise<ReferenceFigures> {
  let candidate: EmotionClassifier;
  try {
    candidate = await EmotionClassifier.load(onnxPath, { intraOpThreads: 1 });
  } catch (err) {
    throw new ModelUpdateRefused(`refused: signed, but it does not load: ${(err as Error).message}`);
  }
  try {
    const current = await EmotionClassifier.load(currentPath, { intraOpThreads: 1 });
    let figures: ReferenceFigures;
    try {
      figures = await runReferenceCheck(candidate, current, reference);
    } finally {
      await current.close();
    }
    const refusal = judgeReference(figures);
    if (refusal) throw new ModelUpdateRefused(`refused: ${refusal}`);
    return figures;
  } catch (err) {
    if (err instanceof ModelUpdateRefused) throw err;
    throw new ModelUpdateRefused(`refused: the reference faces could not be run: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    await candidate.close();
  }
}

/** The reference faces of a verified manifest, from the request: refused when absent or not the signed ones. */
function referenceOf(p: ModelUpdateParams, manifest: ModelManifest): ReferenceCrops {
  const declared = manifest.reference;
  if (!declared) {
    throw new ModelUpdateRefused(
      `refused: ${manifest.name} ${manifest.version} has no reference faces (no "reference" in its manifest): make them on the training host with \`scripts/make-reference-faces.ts --model <file.onnx> --write\`, then sign the model again`,
    );
  }
  if (p.reference === undefined) throw new ModelUpdateRefused(`refused: the request carries no reference faces (${declared.file}, named by the manifest)`);
  const size = manifest.input.shape[2];
  try {
    return parseReferenceSet(p.reference, declared, size).crops;
  } catch (err) {
    throw new ModelUpdateRefused(`refused: ${(err as Error).message}`);
  }
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

  const reference = referenceOf(p, v.manifest);

  const { name, version, file } = v.statement;
  const root = path.join(o.dataDir, 'models');
  const folder = path.join(root, `${safeName(name)}-${safeName(version)}`);
  const staging = `${folder}.incoming-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const onnx = path.join(staging, path.basename(file));
  let figures: ReferenceFigures;
  try {
    writeFileSync(onnx, model);
    writeFileSync(manifestPathFor(onnx), p.manifest);
    writeFileSync(signaturePathFor(onnx), p.signature);
    writeFileSync(path.join(staging, path.basename(v.manifest.reference!.file)), p.reference!);
    figures = await o.check(onnx, reference);
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
    reference: referenceSummary(figures),
  };
}

function keyIdOf(file: string): string {
  return sha256Hex(createPublicKey(readFileSync(file, 'utf8')).export({ type: 'spki', format: 'der' })).slice(0, 16);
}

/** The reference-face figures as a response carries them. */
export function referenceSummary(f: ReferenceFigures): Record<string, unknown> {
  return {
    faces: f.faces,
    agree: f.agree,
    agreement: Math.round(f.agreement * 1000) / 1000,
    msPerFace: Math.round(f.candidateMsPerFace * 100) / 100,
    currentMsPerFace: Math.round(f.currentMsPerFace * 100) / 100,
    latencyRatio: Math.round(f.latencyRatio * 100) / 100,
  };
}
