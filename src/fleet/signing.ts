/**
 * Model signing (issue 15): the operator signs a model with an Ed25519 key (node:crypto), devices accept a model only
 * when a key they trust signed it. The signature covers a small statement: the ONNX file's sha256 and size, and the
 * sha256 of its manifest (so a manifest edited after signing, e.g. other labels or normalisation, is refused too).
 *
 *   <model>.onnx        the model
 *   <model>.json        its manifest (src/model/manifest.ts)
 *   <model>.sig.json    {"statement": {...}, "keyId": "<16 hex>", "signature": "<base64>"}   (this file)
 *
 * Pure apart from keygen/sign/verify file helpers at the bottom; verifyModel() is what the device runs, on bytes,
 * before anything else touches the model.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { manifestPathFor, manifestSchema } from '../model/index.js';
import { sha256Hex } from '../util/index.js';

export const SIGNATURE_FORMAT = 'emotion-kiosk-model-signature/1';

export const statementSchema = z
  .object({
    format: z.literal(SIGNATURE_FORMAT),
    name: z.string().min(1).max(200),
    version: z.string().min(1).max(200),
    /** The ONNX file name the manifest names (manifest.file). */
    file: z.string().min(1).max(200),
    modelSha256: z.string().regex(/^[0-9a-f]{64}$/),
    modelSize: z.int().min(1),
    manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
    signedAt: z.string().max(64),
  })
  .strict();
export type SignedStatement = z.infer<typeof statementSchema>;

export const signatureFileSchema = z
  .object({ statement: statementSchema, keyId: z.string().regex(/^[0-9a-f]{16}$/), signature: z.string().min(1).max(200) })
  .strict();
export type SignatureFile = z.infer<typeof signatureFileSchema>;


/** Canonical bytes of a statement (fixed key order), what the signature is over. */
export function statementBytes(s: SignedStatement): Buffer {
  const ordered = { format: s.format, name: s.name, version: s.version, file: s.file, modelSha256: s.modelSha256, modelSize: s.modelSize, manifestSha256: s.manifestSha256, signedAt: s.signedAt };
  return Buffer.from(JSON.stringify(ordered), 'utf8');
}

/** A key's id: the first 16 hex of the sha256 of its public key (SPKI DER). */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(pub.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

export function parsePublicKey(pem: string, where: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey(pem);
  } catch (err) {
    throw new Error(`${where} is not a public key in PEM format (${(err as Error).message})`);
  }
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`${where} is a ${k.asymmetricKeyType} key; model keys are Ed25519 (emotion-kiosk fleet keygen)`);
  return k;
}

/** Signs a model's bytes and its manifest's bytes. */
export function signModel(model: Uint8Array, manifestText: string, privateKey: KeyObject, now = new Date()): SignatureFile {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the signing key is ${privateKey.asymmetricKeyType}, not Ed25519`);
  const manifest = manifestSchema.parse(JSON.parse(manifestText));
  const statement: SignedStatement = {
    format: SIGNATURE_FORMAT,
    name: manifest.name,
    version: manifest.version,
    file: manifest.file,
    modelSha256: sha256Hex(model),
    modelSize: model.length,
    manifestSha256: sha256Hex(Buffer.from(manifestText, 'utf8')),
    signedAt: now.toISOString(),
  };
  return { statement, keyId: keyId(privateKey), signature: sign(null, statementBytes(statement), privateKey).toString('base64') };
}

export type VerifyResult = { ok: true; statement: SignedStatement; manifest: z.infer<typeof manifestSchema> } | { ok: false; reason: string };

/**
 * What a device checks, cheapest first: the signature file's shape, a trusted key, the signature, then size,
 * sha256 of the model and of the manifest, and the manifest itself (schema, and that it is the signed name/version
 * and names the signed file). Never throws.
 */
export function verifyModel(model: Uint8Array, manifestText: string, signatureText: string, trusted: readonly KeyObject[]): VerifyResult {
  if (trusted.length === 0) return { ok: false, reason: 'no trusted model key on this device: create a key pair with `emotion-kiosk fleet keygen`, copy the .pub file to the device and set remote.modelKey to its path' };
  let sig: SignatureFile;
  try {
    const parsed = signatureFileSchema.safeParse(JSON.parse(signatureText));
    if (!parsed.success) return { ok: false, reason: `unsigned: the signature file is not one (${parsed.error.issues[0]?.path.join('.') || 'root'}: ${parsed.error.issues[0]?.message})` };
    sig = parsed.data;
  } catch {
    return { ok: false, reason: 'unsigned: the signature file is not JSON' };
  }
  const key = trusted.find((k) => keyId(k) === sig.keyId);
  if (!key) return { ok: false, reason: `signed by key ${sig.keyId}, which this device does not trust (trusted: ${trusted.map(keyId).join(', ')})` };
  let good = false;
  try {
    good = verify(null, statementBytes(sig.statement), key, Buffer.from(sig.signature, 'base64'));
  } catch {
    good = false;
  }
  if (!good) return { ok: false, reason: `bad signature: the statement was not signed by key ${sig.keyId} (altered after signing?)` };
  const st = sig.statement;
  if (model.length !== st.modelSize) {
    return { ok: false, reason: `model is ${model.length} bytes, the signature says ${st.modelSize}${model.length < st.modelSize ? ' (truncated)' : ''}` };
  }
  const sha = sha256Hex(model);
  if (sha !== st.modelSha256) return { ok: false, reason: `wrong sha256: the model's is ${sha}, the signature says ${st.modelSha256}` };
  const manSha = sha256Hex(Buffer.from(manifestText, 'utf8'));
  if (manSha !== st.manifestSha256) return { ok: false, reason: `the manifest does not match the signature (sha256 ${manSha}, signed ${st.manifestSha256}): edited after signing?` };
  let manifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(manifestText));
  } catch (err) {
    return { ok: false, reason: `the manifest is invalid: ${(err as Error).message.split('\n')[0]}` };
  }
  if (manifest.name !== st.name || manifest.version !== st.version || manifest.file !== st.file) {
    return { ok: false, reason: `the manifest (${manifest.name} ${manifest.version}, ${manifest.file}) is not the signed one (${st.name} ${st.version}, ${st.file})` };
  }
  return { ok: true, statement: st, manifest };
}

// ---- files (the CLI) ----

export function signaturePathFor(onnxPath: string): string {
  return onnxPath.replace(/\.onnx$/i, '') + '.sig.json';
}

/** Writes <out>.key (private, 0600) and <out>.pub; returns the key id. */
export function keygenFiles(out: string): { privateFile: string; publicFile: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateFile = `${out}.key`;
  const publicFile = `${out}.pub`;
  writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }), { flag: 'wx' });
  return { privateFile, publicFile, keyId: keyId(publicKey) };
}

export function signFiles(onnxPath: string, privateKeyFile: string): { signatureFile: string; signed: SignatureFile } {
  const key = createPrivateKey(readFileSync(privateKeyFile));
  const manifestText = readFileSync(manifestPathFor(onnxPath), 'utf8');
  const manifest = manifestSchema.parse(JSON.parse(manifestText));
  if (manifest.file !== path.basename(onnxPath)) throw new Error(`the manifest ${manifestPathFor(onnxPath)} names ${manifest.file}, not ${path.basename(onnxPath)}`);
  const signed = signModel(readFileSync(onnxPath), manifestText, key);
  const signatureFile = signaturePathFor(onnxPath);
  writeFileSync(signatureFile, JSON.stringify(signed, null, 2) + '\n');
  return { signatureFile, signed };
}

export function verifyFiles(onnxPath: string, publicKeyFiles: readonly string[]): VerifyResult {
  const keys = publicKeyFiles.map((f) => parsePublicKey(readFileSync(f, 'utf8'), f));
  let sigText: string;
  try {
    sigText = readFileSync(signaturePathFor(onnxPath), 'utf8');
  } catch {
    return { ok: false, reason: `unsigned: ${signaturePathFor(onnxPath)} not found (emotion-kiosk fleet sign)` };
  }
  return verifyModel(readFileSync(onnxPath), readFileSync(manifestPathFor(onnxPath), 'utf8'), sigText, keys);
}
