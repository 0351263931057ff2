/**
 * Honest confidences: temperature scaling (Guo et al. 2017) fitted on the validation split, and the expected
 * calibration error with its reliability table. Pure. The probabilities are the runtime's: each test-time view's
 * softmax(logits / T), then the views averaged (src/model/preprocess.ts faceProbabilities), so the temperature is
 * fitted for the views the manifest declares.
 */
import { faceProbabilities } from '../model/index.js';

/** Logits of n faces for every view: [views * n, classes], one block of n rows per view (the runtime's batch order). */
export interface ViewLogits {
  logits: Float32Array;
  n: number;
  views: number;
  classes: number;
}

export function probabilitiesAt(v: ViewLogits, temperature: number): Float32Array {
  return faceProbabilities(v.logits, 'logits', v.n, v.views, v.classes, temperature);
}

/** Mean negative log-likelihood of the true classes. */
export function meanNll(probs: Float32Array, truth: ArrayLike<number>, classes: number): number {
  let s = 0;
  for (let i = 0; i < truth.length; i++) s -= Math.log(Math.max(probs[i * classes + truth[i]!]!, 1e-12));
  return s / truth.length;
}

/**
 * The temperature with the lowest validation NLL: golden-section search over log T in [lo, hi] (the NLL of
 * tempered, view-averaged probabilities is unimodal in practice; the search ends within `tol` of log T).
 */
export function fitTemperature(v: ViewLogits, truth: ArrayLike<number>, { lo = 0.05, hi = 20, tol = 1e-4 } = {}): { temperature: number; nll: number } {
  if (truth.length !== v.n) throw new RangeError(`${truth.length} labels for ${v.n} faces`);
  if (v.n === 0) throw new RangeError('fitting a temperature needs at least one labelled face');
  const f = (logT: number) => meanNll(probabilitiesAt(v, Math.exp(logT)), truth, v.classes);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(lo);
  let b = Math.log(hi);
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > tol) {
    if (fc < fd) {
      [b, d, fd] = [d, c, fc];
      c = b - g * (b - a);
      fc = f(c);
    } else {
      [a, c, fc] = [c, d, fd];
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  const logT = (a + b) / 2;
  return { temperature: Math.exp(logT), nll: f(logT) };
}

export interface ReliabilityBin {
  /** Confidence range [from, to) (the last bin includes 1). */
  from: number;
  to: number;
  n: number;
  /** Mean top-1 confidence of the faces in the bin (0 when empty). */
  confidence: number;
  /** Fraction of them whose top-1 class is right (0 when empty). */
  accuracy: number;
}

export interface Calibration {
  n: number;
  accuracy: number;
  nll: number;
  /** Expected calibration error: sum over bins of n_bin / n * |accuracy - confidence|. */
  ece: number;
  meanConfidence: number;
  bins: ReliabilityBin[];
}

/** ECE over `bins` equal-width confidence bins (15, as Guo et al.) and the reliability table behind it. */
export function calibration(probs: Float32Array, truth: ArrayLike<number>, classes: number, bins = 15): Calibration {
  const n = truth.length;
  if (probs.length !== n * classes) throw new RangeError(`${probs.length} probabilities for ${n} faces of ${classes} classes`);
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const right = new Array<number>(bins).fill(0);
  let correct = 0;
  let confSum = 0;
  for (let i = 0; i < n; i++) {
    let top = 0;
    for (let k = 1; k < classes; k++) if (probs[i * classes + k]! > probs[i * classes + top]!) top = k;
    const p = probs[i * classes + top]!;
    const b = Math.min(bins - 1, Math.floor(p * bins));
    count[b]!++;
    conf[b]! += p;
    confSum += p;
    if (top === truth[i]) {
      right[b]!++;
      correct++;
    }
  }
  let ece = 0;
  const table: ReliabilityBin[] = count.map((c, b) => {
    const confidence = c ? conf[b]! / c : 0;
    const accuracy = c ? right[b]! / c : 0;
    ece += (c / n) * Math.abs(accuracy - confidence);
    return { from: b / bins, to: (b + 1) / bins, n: c, confidence, accuracy };
  });
  return { n, accuracy: correct / n, nll: meanNll(probs, truth, classes), ece, meanConfidence: confSum / n, bins: table };
}

/** The reliability table before/after as markdown lines (bins with faces in either). */
export function reliabilityTable(before: Calibration, after: Calibration, t: number): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `| confidence | faces (T = 1) | mean confidence | accuracy | faces (T = ${t}) | mean confidence | accuracy |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  before.bins.forEach((b, i) => {
    const a = after.bins[i]!;
    if (b.n === 0 && a.n === 0) return;
    const cell = (x: ReliabilityBin) => (x.n ? `${x.n} | ${pct(x.confidence)} | ${pct(x.accuracy)}` : '0 | | ');
    lines.push(`| ${b.from.toFixed(2)}-${b.to.toFixed(2)} | ${cell(b)} | ${cell(a)} |`);
  });
  lines.push(`| all | ${before.n} | ${pct(before.meanConfidence)} | ${pct(before.accuracy)} | ${after.n} | ${pct(after.meanConfidence)} | ${pct(after.accuracy)} |`);
  return lines;
}
