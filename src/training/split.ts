/**
 * The validation split: a stratified, seeded fraction of FER2013 Training, held out of training and used for every
 * choice (epoch, hyperparameters, views, temperature). PublicTest is never used for selection.
 *
 * A split is a list of image keys, one a line, committed to the repository (models/splits/fer2013-val.txt):
 *  - image folders: the path relative to the data root, with forward slashes: `train/angry/Training_10118481.jpg`;
 *  - Kaggle's fer2013.csv: `<file name>:<line>` (1-based line number in the csv, header = line 1), e.g.
 *    `fer2013.csv:2`. The Kaggle image folders and the csv do not share file names, so each form has its own list
 *    (the trainer writes one for a csv on first use, from the same stratified, seeded draw).
 *
 * The draw depends only on the set of (key, label) pairs and the seed, never on load order: per class, the keys are
 * sorted, shuffled by a generator seeded with (seed, class) and the first round(fraction * count) are validation.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EMOTIONS } from '../model/index.js';
import { FER_SIZE, type FerDataset } from './fer2013.js';
import { mixSeed, Rng } from '../util/index.js';

const PIX = FER_SIZE * FER_SIZE;

export const DEFAULT_VAL_FRACTION = 0.1;
export const DEFAULT_SPLIT_SEED = 2013;

/** The committed list for the image-folder layout (relative to the repository root). */
export const DEFAULT_VAL_SPLIT_FILE = 'models/splits/fer2013-val.txt';

/**
 * The key of one loaded image: relative path for the folder layout (`source` is a file under `dataRoot`), or
 * `<csv basename>:<line>` for a csv source (`source` = `<file>:<line>`).
 */
export function splitKey(dataRoot: string, source: string, isCsv: boolean): string {
  if (isCsv) {
    const m = /^(.*):(\d+)$/.exec(source);
    if (!m) throw new Error(`csv source "${source}" has no :<line> suffix`);
    return `${path.basename(m[1]!)}:${m[2]}`;
  }
  return path.relative(dataRoot, source).split(path.sep).join('/');
}

/** Stratified, seeded choice of validation keys (see the file comment). Returns them sorted. */
export function stratifiedSplit(keys: readonly string[], labels: ArrayLike<number>, fraction: number, seed: number): string[] {
  if (keys.length !== labels.length) throw new Error(`stratifiedSplit: ${keys.length} keys but ${labels.length} labels`);
  if (!(fraction > 0 && fraction < 1)) throw new Error(`stratifiedSplit: fraction ${fraction} must be in (0, 1)`);
  const byClass = new Map<number, string[]>();
  for (let i = 0; i < keys.length; i++) {
    const c = labels[i]!;
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(keys[i]!);
  }
  const out: string[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const list = byClass.get(c)!.sort();
    if (new Set(list).size !== list.length) throw new Error(`stratifiedSplit: duplicate keys in class ${c}`);
    new Rng(mixSeed(seed, c, 0x5b117)).shuffle(list);
    out.push(...list.slice(0, Math.round(fraction * list.length)));
  }
  return out.sort();
}

/** The list file: one key a line, with `#` comment lines (a header saying how it was made). */
export function formatSplitFile(keys: readonly string[], header: string[] = []): string {
  return [...header.map((h) => `# ${h}`), ...keys].join('\n') + '\n';
}

export function parseSplitFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    out.push(line);
  }
  return out;
}

export interface SplitResult {
  train: FerDataset;
  validation: FerDataset;
  /** Keys in the list that are not in the loaded data (expected with --limit-per-class, otherwise a mismatch). */
  missing: number;
}

/** Splits a loaded Training set by a key list: images whose key is listed go to validation, the rest to train. */
export function applySplit(data: FerDataset, keys: readonly string[], valKeys: ReadonlySet<string>): SplitResult {
  if (keys.length !== data.labels.length) throw new Error(`applySplit: ${keys.length} keys for ${data.labels.length} images`);
  const isVal = keys.map((k) => valKeys.has(k));
  const pick = (want: boolean, split: FerDataset['split']): FerDataset => {
    const idx: number[] = [];
    isVal.forEach((v, i) => {
      if (v === want) idx.push(i);
    });
    const images = new Uint8Array(idx.length * PIX);
    const labels = new Uint8Array(idx.length);
    idx.forEach((i, j) => {
      images.set(data.images.subarray(i * PIX, (i + 1) * PIX), j * PIX);
      labels[j] = data.labels[i]!;
    });
    return { split, images, labels, sources: idx.map((i) => data.sources[i]!), skipped: want ? [] : data.skipped };
  };
  const found = isVal.filter(Boolean).length;
  return { train: pick(false, 'train'), validation: pick(true, 'validation'), missing: valKeys.size - found };
}

export interface LoadSplitOptions {
  /** The data path given to the trainer (folder with train/, or fer2013.csv). */
  dataPath: string;
  isCsv: boolean;
  /** The list file; created (stratified, seeded) when it does not exist. */
  file: string;
  fraction?: number;
  seed?: number;
  /** True when only part of Training was loaded (--limit-per-class): a list is then never written. */
  partial?: boolean;
  log?: (line: string) => void;
}

/** Reads the split list (or draws and writes it when absent) and splits the loaded Training set by it. */
export async function splitTraining(data: FerDataset, o: LoadSplitOptions): Promise<SplitResult & { file: string; created: boolean }> {
  const keys = data.sources.map((s) => splitKey(o.dataPath, s, o.isCsv));
  let valKeys: string[];
  let created = false;
  if (existsSync(o.file)) {
    valKeys = parseSplitFile(await readFile(o.file, 'utf8'));
  } else {
    if (o.partial) throw new Error(`validation split ${o.file} does not exist; create it from the whole Training set (without --limit-per-class)`);
    const fraction = o.fraction ?? DEFAULT_VAL_FRACTION;
    const seed = o.seed ?? DEFAULT_SPLIT_SEED;
    valKeys = stratifiedSplit(keys, data.labels, fraction, seed);
    await mkdir(path.dirname(o.file), { recursive: true });
    const labelOf = new Map(keys.map((k, i) => [k, data.labels[i]!]));
    const counts = EMOTIONS.map((_, c) => valKeys.filter((k) => labelOf.get(k) === c).length);
    await writeFile(
      o.file,
      formatSplitFile(valKeys, [
        `FER2013 validation split: ${valKeys.length} of ${keys.length} Training images (${o.isCsv ? 'fer2013.csv lines' : 'paths relative to the data folder'})`,
        `stratified ${fraction} per class, seed ${seed} (src/training/split.ts stratifiedSplit); per class ${EMOTIONS.map((e, c) => `${e} ${counts[c]}`).join(', ')}`,
      ]),
    );
    created = true;
    o.log?.(`wrote validation split ${o.file} (${valKeys.length} images)`);
  }
  const r = applySplit(data, keys, new Set(valKeys));
  if (r.validation.labels.length === 0) throw new Error(`validation split ${o.file}: none of its ${valKeys.length} keys is in the loaded Training data (wrong list for this data form?)`);
  if (r.missing > 0 && !o.partial) throw new Error(`validation split ${o.file}: ${r.missing} of its ${valKeys.length} keys are not in the loaded Training data`);
  return { ...r, file: o.file, created };
}
