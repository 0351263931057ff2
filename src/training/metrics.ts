/** Classification metrics (pure): confusion matrix, per-class precision / recall / F1, accuracy, macro F1. */
import { confusionMatrix, reportFromConfusion } from '../model/index.js';

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

/** The runtime's metrics (src/model/metrics.ts, pure), in the per-class list form the training report uses. */
export { confusionMatrix };

export function classificationReport(confusion: number[][], labels: readonly string[]): ClassificationReport {
  const r = reportFromConfusion(confusion, labels);
  return {
    n: r.n,
    accuracy: r.accuracy,
    macroF1: r.macroF1,
    confusion,
    perClass: labels.map((label) => ({ label, ...r.perClass[label]! })),
  };
}

/** Per-class loss weights (count / mean count)^-power, normalised to mean 1 over the samples. power 0 = none. */
export function classWeights(counts: readonly number[], power: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const raw = counts.map((c) => (c > 0 ? Math.pow(c, -power) : 0));
  const meanPerSample = counts.reduce((a, c, i) => a + c * raw[i]!, 0) / total;
  return raw.map((w) => w / meanPerSample);
}
