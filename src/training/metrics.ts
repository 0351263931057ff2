/** Classification metrics (pure): confusion matrix, per-class precision / recall / F1, accuracy, macro F1. */

export interface ClassMetrics {
  label: string;
  support: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassificationReport {
  n: number;
  accuracy: number;
  macroF1: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  perClass: ClassMetrics[];
}

export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, k: number): number[][] {
  if (truth.length !== predicted.length) throw new Error(`confusionMatrix: ${truth.length} labels vs ${predicted.length} predictions`);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]!]![predicted[i]!]!++;
  return m;
}

export function classificationReport(confusion: number[][], labels: readonly string[]): ClassificationReport {
  const k = labels.length;
  let n = 0;
  let correct = 0;
  const perClass: ClassMetrics[] = [];
  for (let c = 0; c < k; c++) {
    const row = confusion[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    const tp = row[c]!;
    const predicted = confusion.reduce((a, r) => a + r[c]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass.push({ label: labels[c]!, support, precision, recall, f1 });
    n += support;
    correct += tp;
  }
  return { n, accuracy: n ? correct / n : 0, macroF1: perClass.reduce((a, p) => a + p.f1, 0) / k, confusion, perClass };
}

/** Per-class loss weights (count / mean count)^-power, normalised to mean 1 over the samples. power 0 = none. */
export function classWeights(counts: readonly number[], power: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const raw = counts.map((c) => (c > 0 ? Math.pow(c, -power) : 0));
  const meanPerSample = counts.reduce((a, c, i) => a + c * raw[i]!, 0) / total;
  return raw.map((w) => w / meanPerSample);
}
