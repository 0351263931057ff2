/**
 * Reference faces (issue 15): a small set of grey face crops that ships with every model, with the top-1 emotion the
 * training host expects the model to give each one (computed by that model itself, scripts/make-reference-faces.ts).
 * Before a device switches to a new model it runs the candidate (a second onnxruntime session) on the set: the top-1
 * agreement with the expected predictions must be at least MIN_AGREEMENT and the per-face latency at most
 * MAX_LATENCY_RATIO times the current model's, measured on the device right then; otherwise the update is refused
 * with the figures.
 *
 *   models/<model>.reference.json   this file's format (referenceSetSchema); the manifest's `reference` field names
 *                                   it with its sha256, so the model's signature (over the manifest) covers it
 *
 * The crops come from faces that may ship (OpenCV's sample clips and images, never FER2013), cut exactly as the
 * kiosk cuts them (Haar box, grey, INTER_AREA to the model's input size), so the check runs the same preprocessing
 * as the pipeline. Pure apart from runReferenceCheck (which times the two models).
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { EMOTIONS, topEmotion, type Emotion, type EmotionScores } from './labels.js';
import { sha256Hex } from '../util/index.js';

export const REFERENCE_FORMAT = 'emotion-kiosk-reference-faces/1';
/** Top-1 agreement with the expected predictions a candidate needs (issue 15). */
export const MIN_AGREEMENT = 0.99;
/** A candidate may take at most this many times the current model's time per face. */
export const MAX_LATENCY_RATIO = 2;
/** Largest reference file a device reads (a few dozen 48x48 crops are ~150 KB). */
export const MAX_REFERENCE_BYTES = 2 * 1024 * 1024;

const emotion = z.enum(EMOTIONS);

export const referenceFaceSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,120}$/),
    /** Where the crop came from (file, frame, face, variant), for a person reading the set. */
    source: z.string().max(300),
    /** inputSize x inputSize grey bytes, row-major, base64. */
    crop: z.string().max(64 * 1024),
    expected: emotion,
    /** The expected emotion's probability and its lead over the second one, as the making model gave them. */
    confidence: z.number().min(0).max(1),
    margin: z.number().min(0).max(1),
  })
  .strict();

export const referenceSetSchema = z
  .object({
    format: z.literal(REFERENCE_FORMAT),
    /** The model whose predictions are the expected ones. */
    model: z.object({ name: z.string().min(1).max(200), version: z.string().min(1).max(200), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
    inputSize: z.int().min(8).max(512),
    made: z.object({ by: z.string().max(200), at: z.string().max(64), minMargin: z.number().min(0).max(1), sources: z.array(z.string().max(300)).max(50) }).strict(),
    faces: z.array(referenceFaceSchema).min(10).max(500),
  })
  .strict();
export type ReferenceSet = z.infer<typeof referenceSetSchema>;

/** The manifest's `reference` field. */
export interface ManifestReference {
  file: string;
  sha256: string;
  faces: number;
}

export interface ReferenceCrops {
  ids: string[];
  crops: Uint8Array[];
  expected: Emotion[];
}

/**
 * Parses a reference file's text against the manifest's field: sha256 first, then the format, the face count, and
 * every crop's size against the model's input size. Throws an Error whose message says what is wrong.
 */
export function parseReferenceSet(text: string, declared: ManifestReference, inputSize: number): { set: ReferenceSet; crops: ReferenceCrops } {
  if (Buffer.byteLength(text, 'utf8') > MAX_REFERENCE_BYTES) throw new Error(`the reference faces are ${Buffer.byteLength(text, 'utf8')} bytes, more than ${MAX_REFERENCE_BYTES}`);
  const sha = sha256Hex(Buffer.from(text, 'utf8'));
  if (sha !== declared.sha256) throw new Error(`the reference faces do not match the manifest (sha256 ${sha}, the manifest says ${declared.sha256})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('the reference faces are not JSON');
  }
  const parsed = referenceSetSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`the reference faces are invalid: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const set = parsed.data;
  if (set.faces.length !== declared.faces) throw new Error(`the reference file has ${set.faces.length} faces, the manifest says ${declared.faces}`);
  if (set.inputSize !== inputSize) throw new Error(`the reference crops are ${set.inputSize}x${set.inputSize}, the model takes ${inputSize}x${inputSize}`);
  const crops = set.faces.map((f) => {
    const b = new Uint8Array(Buffer.from(f.crop, 'base64'));
    if (b.length !== inputSize * inputSize) throw new Error(`reference face ${f.id}: ${b.length} bytes, expected ${inputSize * inputSize}`);
    return b;
  });
  return { set, crops: { ids: set.faces.map((f) => f.id), crops, expected: set.faces.map((f) => f.expected) } };
}

export interface ReferenceFigures {
  faces: number;
  agree: number;
  /** agree / faces, 0..1. */
  agreement: number;
  /** Median milliseconds per face (one face per run, as a frame with one face), on this device now. */
  candidateMsPerFace: number;
  currentMsPerFace: number;
  /** candidate / current. */
  latencyRatio: number;
  /** The first few faces where the candidate's top-1 differs. */
  disagreements: { id: string; expected: Emotion; got: Emotion }[];
}

/** Agreement of the candidate's top-1 emotions with the expected ones. Pure. */
export function agreementOf(ref: ReferenceCrops, got: readonly EmotionScores[]): Pick<ReferenceFigures, 'faces' | 'agree' | 'agreement' | 'disagreements'> {
  if (got.length !== ref.crops.length) throw new Error(`${got.length} results for ${ref.crops.length} reference faces`);
  const disagreements: ReferenceFigures['disagreements'] = [];
  let agree = 0;
  got.forEach((scores, i) => {
    const top = topEmotion(scores).emotion;
    if (top === ref.expected[i]) agree += 1;
    else if (disagreements.length < 5) disagreements.push({ id: ref.ids[i]!, expected: ref.expected[i]!, got: top });
  });
  return { faces: got.length, agree, agreement: got.length === 0 ? 0 : agree / got.length, disagreements };
}

/** Null when the candidate passes; else the refusal with its figures, in plain words. Pure. */
export function judgeReference(f: ReferenceFigures, o: { minAgreement?: number; maxLatencyRatio?: number } = {}): string | null {
  const minAgreement = o.minAgreement ?? MIN_AGREEMENT;
  const maxRatio = o.maxLatencyRatio ?? MAX_LATENCY_RATIO;
  const problems: string[] = [];
  if (f.agreement < minAgreement) {
    const which = f.disagreements.map((d) => `${d.id}: ${d.expected} -> ${d.got}`).join(', ');
    problems.push(`top-1 agreement ${pct(f.agreement)} (${f.agree}/${f.faces}) with the expected predictions, below ${pct(minAgreement)}${which ? ` (${which}${f.faces - f.agree > f.disagreements.length ? ', ...' : ''})` : ''}`);
  }
  if (!(f.latencyRatio <= maxRatio)) {
    problems.push(`${f.candidateMsPerFace.toFixed(2)} ms per face, ${f.latencyRatio.toFixed(2)}x the current model's ${f.currentMsPerFace.toFixed(2)} ms (at most ${maxRatio}x)`);
  }
  return problems.length === 0 ? null : `fails the reference faces: ${problems.join('; ')}`;
}

const pct = (x: number) => `${(Math.floor(x * 1000) / 10).toFixed(1)}%`;

export interface Classifies {
  classify(crops: readonly Uint8Array[]): Promise<EmotionScores[]>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Runs the candidate on the reference faces and times it against the current model: one face per run (as a frame
 * with one face), the two models alternating face by face (and which goes first) so that both see the same load on a
 * busy device. After a
 * first pass over the set (the agreement; a new session's first runs are slow), each face's time is its fastest of `rounds` runs
 * (a load spike lengthens a run, nothing shortens one) and a model's time per face the median over the faces. A
 * ratio over MAX_LATENCY_RATIO is measured once more (`attempts`, the better kept): one busy second of the
 * device does not refuse a model, a model that is slower every time is.
 */
export async function runReferenceCheck(candidate: Classifies, current: Classifies, ref: ReferenceCrops, o: { rounds?: number; attempts?: number } = {}): Promise<ReferenceFigures> {
  const rounds = o.rounds ?? 2;
  const got: EmotionScores[] = [];
  for (const crop of ref.crops) {
    await current.classify([crop]);
    got.push((await candidate.classify([crop]))[0]!);
  }
  let best: { candidateMsPerFace: number; currentMsPerFace: number; latencyRatio: number } | null = null;
  for (let attempt = 0; attempt < (o.attempts ?? 2) && !(best && best.latencyRatio <= MAX_LATENCY_RATIO); attempt++) {
    const tCandidate = ref.crops.map(() => Infinity);
    const tCurrent = ref.crops.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      for (const [i, crop] of ref.crops.entries()) {
        // which model runs a face first alternates (the second run of a crop finds it in the caches)
        const order = (i + r) % 2 === 0 ? [current, candidate] : [candidate, current];
        for (const m of order) {
          const t = performance.now();
          await m.classify([crop]);
          const ms = performance.now() - t;
          if (m === current) tCurrent[i] = Math.min(tCurrent[i]!, ms);
          else tCandidate[i] = Math.min(tCandidate[i]!, ms);
        }
      }
    }
    const candidateMsPerFace = median(tCandidate);
    const currentMsPerFace = median(tCurrent);
    const latencyRatio = currentMsPerFace > 0 ? candidateMsPerFace / currentMsPerFace : 1;
    if (!best || latencyRatio < best.latencyRatio) best = { candidateMsPerFace, currentMsPerFace, latencyRatio };
  }
  return { ...agreementOf(ref, got), ...best! };
}

/** The path of a model's reference file beside it (models/foo.onnx -> models/foo.reference.json). */
export function referencePathFor(onnxPath: string): string {
  return onnxPath.replace(/\.onnx$/i, '') + '.reference.json';
}
