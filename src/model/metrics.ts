/** Classification metrics: confusion matrix, accuracy, per-class precision/recall/F1. Pure. */

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Number of true examples of the class. */
  support: number;
}

export interface ClassificationReport {
  n: number;
  accuracy: number;
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
  /** rows: true class, columns: predicted class, both in `labels` order. */
  confusionMatrix: number[][];
  labels: string[];
}

export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  if (truth.length !== predicted.length) throw new RangeError(`${truth.length} labels but ${predicted.length} predictions`);
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    if (t < 0 || t >= classes || p < 0 || p >= classes) throw new RangeError(`class index out of range at ${i}: ${t} / ${p}`);
    m[t]![p]!++;
  }
  return m;
}

export function reportFromConfusion(matrix: number[][], labels: readonly string[]): ClassificationReport {
  const k = labels.length;
  let n = 0;
  let correct = 0;
  const perClass: Record<string, ClassMetrics> = {};
  let f1Sum = 0;
  for (let c = 0; c < k; c++) {
    const row = matrix[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    const tp = row[c]!;
    const predicted = matrix.reduce((a, r) => a + r[c]!, 0);
    n += support;
    correct += tp;
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[labels[c]!] = { precision, recall, f1, support };
    f1Sum += f1;
  }
  return { n, accuracy: n > 0 ? correct / n : 0, macroF1: k > 0 ? f1Sum / k : 0, perClass, confusionMatrix: matrix, labels: [...labels] };
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}
