/**
 * The report's validation-only evaluation of an exported checkpoint (issue 13): what was chosen on what, the
 * test-time views ablation with each set's per-face cost, the temperature with ECE and reliability table, the crop
 * calibration, and the detector clip. Read from the JSON files the tools write into one folder:
 *   views.json             scripts/ablate-views.ts
 *   views-cost.json        npm run bench -- views --out
 *   temperature.json       scripts/calibrate-temperature.ts --out
 *   crop-calibration.json  scripts/calibrate-crop.ts --out
 *   clip.json, clip-*.json emotion-kiosk evaluate --clip <validation clip> --json (one per clip)
 * Each is optional; a file that is there but malformed is an error naming it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { reliabilityTable } from '../onnx/index.js';

const calib = z.object({ n: z.number(), accuracy: z.number(), nll: z.number(), ece: z.number(), meanConfidence: z.number(), bins: z.array(z.object({ from: z.number(), to: z.number(), n: z.number(), confidence: z.number(), accuracy: z.number() })) });

const schemas = {
  views: z.object({
    split: z.string(),
    n: z.number(),
    results: z.array(
      z.object({
        model: z.string(),
        version: z.string(),
        quantization: z.string(),
        rows: z.array(z.object({ name: z.string(), views: z.number(), accuracy: z.number(), macroF1: z.number(), ece: z.number(), temperature: z.number(), eceAfter: z.number() })),
      }),
    ),
  }),
  cost: z.object({ model: z.string(), runs: z.number(), rows: z.array(z.object({ name: z.string(), views: z.number(), p50: z.number(), p95: z.number() })) }),
  temperature: z.object({ model: z.string(), version: z.string(), views: z.string(), split: z.string(), n: z.number(), temperature: z.number(), before: calib, after: calib }),
  crop: z.object({
    faces: z.number(),
    detected: z.number(),
    detectionRate: z.number(),
    faceSizes: z.tuple([z.number(), z.number()]),
    detection: z.record(z.string(), z.unknown()),
    geometry: z.object({ scale: z.number(), offsetX: z.number(), offsetY: z.number() }),
    iqr: z.record(z.string(), z.tuple([z.number(), z.number()])),
    accuracy: z.object({ n: z.number(), native: z.number(), crops: z.array(z.object({ crop: z.string(), accuracy: z.number(), deltaPoints: z.number() })) }).optional(),
  }),
  clip: z.object({
    modelVersion: z.string(),
    clip: z.string(),
    frames: z.number(),
    detection: z.object({ rate: z.number(), truthFaces: z.number(), falseDetections: z.number() }),
    accuracy: z.object({ detected: z.number(), nativeSameFrames: z.number(), deltaPoints: z.number(), n: z.number() }),
    pairs: z.object({ n: z.number(), followRateCorrect: z.number(), followedCorrect: z.number(), correct: z.number() }),
    statics: z.object({ n: z.number(), changes: z.number() }),
  }),
};

const FILES = { views: 'views.json', cost: 'views-cost.json', temperature: 'temperature.json', crop: 'crop-calibration.json' } as const;
const CLIP_FILE = /^clip(-[\w.-]+)?\.json$/;

type Single = Omit<typeof schemas, 'clip'>;
export type EvaluationInputs = { [K in keyof Single]?: z.infer<Single[K]> } & { clips?: Array<z.infer<(typeof schemas)['clip']> & { file: string }> };

async function parseFile<T>(file: string, schema: z.ZodType<T>): Promise<T> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`report: ${file} is not readable JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new Error(`report: ${file} is not what its tool writes: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export async function readEvaluation(dir: string): Promise<EvaluationInputs> {
  const out: EvaluationInputs = {};
  for (const [key, name] of Object.entries(FILES) as Array<[keyof Single, string]>) {
    const file = path.join(dir, name);
    if (existsSync(file)) (out as Record<string, unknown>)[key] = await parseFile(file, schemas[key] as z.ZodType<unknown>);
  }
  for (const name of evaluationFiles(dir).filter((f) => CLIP_FILE.test(f))) {
    (out.clips ??= []).push({ ...(await parseFile(path.join(dir, name), schemas.clip)), file: name });
  }
  if (Object.keys(out).length === 0) throw new Error(`report: ${dir} holds none of ${Object.values(FILES).join(', ')}, clip[-<name>].json`);
  return out;
}

/** The files of `dir` that readEvaluation reads (copied beside the report). */
export function evaluationFiles(dir: string): string[] {
  const known = new Set<string>(Object.values(FILES));
  return readdirSync(dir).filter((f) => known.has(f) || CLIP_FILE.test(f)).sort();
}

const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)}%`;

/** The markdown section. `bestEpoch`: the checkpoint the evaluation is of. */
export function evaluationMarkdown(e: EvaluationInputs, bestEpoch: number): string[] {
  const L: string[] = ['## Evaluation of the exported model on the validation split', ''];
  L.push(
    `Everything in this section was measured on the validation split only, with the ONNX export of the best checkpoint ` +
      `(epoch ${bestEpoch}) through the runtime's own preprocessing. PublicTest is not used for any of it.`,
    '',
  );
  L.push('### What was chosen on what', '', '| choice | chosen | on |', '|---|---|---|');
  L.push(`| epoch | ${bestEpoch} | validation accuracy with test-time flip, after every epoch (the trainer) |`);
  const int8 = e.views?.results.find((r) => r.quantization !== 'float') ?? e.views?.results[0];
  const cost = new Map((e.cost?.rows ?? []).map((r) => [r.name, r]));
  if (int8) {
    const within = int8.rows.filter((r) => (cost.get(r.name)?.p50 ?? Infinity) <= 2 || (!e.cost && r.views <= 4));
    const best = [...(within.length ? within : int8.rows)].sort((x, y) => y.accuracy - x.accuracy)[0]!;
    L.push(`| test-time views | ${best.name} (${best.views} views, ${pct(best.accuracy)}) | validation accuracy of the ${int8.quantization} model, among the sets within 2.0 ms per face${e.cost ? '' : ' (no cost file: sets of <= 4 views)'} |`);
  }
  if (e.temperature) L.push(`| temperature | ${e.temperature.temperature} | validation NLL of the ${e.temperature.views} (${e.temperature.n} faces) |`);
  if (e.crop?.accuracy) {
    const cur = e.crop.accuracy.crops[0]!;
    const fitted = e.crop.accuracy.crops.find((c) => c.crop.startsWith('fitted'));
    const keep = !fitted || fitted.accuracy <= cur.accuracy;
    L.push(`| face crop | ${keep ? 'the Haar box as it is (unchanged)' : fitted!.crop} | paired accuracy through the kiosk's detector on ${e.crop.accuracy.n} detected validation faces: current ${pct(cur.accuracy)}, fitted ${fitted ? pct(fitted.accuracy) : '-'} |`);
  }
  L.push('');
  if (e.views) {
    L.push('### Test-time views', '');
    L.push(
      `${e.views.n} validation faces (\`${e.views.split}\`). ECE: 15 bins, at temperature 1 and at the temperature fitted on this split for that set ` +
        `(in-sample, one parameter). Cost: \`npm run bench -- views\`, p50 ms per face for all its views in one onnxruntime run on one core` +
        (e.cost ? ` (${e.cost.runs} faces per set, interleaved; the machine is shared with the training run, so p95 is noisy)` : ' (not measured for this report)') +
        '.',
      '',
    );
    for (const r of e.views.results) {
      L.push(`${r.quantization === 'float' ? 'Float' : `INT8 (${r.quantization})`} model \`${path.basename(r.model)}\` (${r.version}):`, '');
      L.push('| views | set | accuracy | macro-F1 | ECE (T = 1) | T fitted | ECE (fitted) | ms/face p50 |', '|---:|---|---:|---:|---:|---:|---:|---:|');
      for (const row of r.rows) {
        const c = cost.get(row.name);
        L.push(`| ${row.views} | ${row.name} | ${pct(row.accuracy)} | ${row.macroF1.toFixed(3)} | ${pct(row.ece)} | ${row.temperature.toFixed(3)} | ${pct(row.eceAfter)} | ${c ? c.p50.toFixed(2) : '-'} |`);
      }
      L.push('');
    }
  }
  if (e.temperature) {
    const t = e.temperature;
    L.push('### Temperature (honest confidences)', '');
    L.push(
      `\`${path.basename(t.model)}\` with its manifest's ${t.views}: temperature **${t.temperature}** (minimum NLL on ${t.n} validation faces). ` +
        `NLL ${t.before.nll.toFixed(4)} -> ${t.after.nll.toFixed(4)}, ECE (15 bins) ${pct(t.before.ece)} -> ${pct(t.after.ece)}, mean confidence ` +
        `${pct(t.before.meanConfidence, 1)} -> ${pct(t.after.meanConfidence, 1)} at accuracy ${pct(t.after.accuracy, 1)}. ` +
        `${t.temperature < 1 ? 'Below 1: the averaged views are under-confident (class weighting and view averaging flatten the scores), so the temperature sharpens them.' : 'Above 1: the network is over-confident, so the temperature softens its scores.'} ` +
        `The manifest carries it (\`temperature\`) and the runtime classifier divides each view's logits by it. The figure on PublicTest is measured once, at the end.`,
      '',
    );
    L.push(...reliabilityTable(t.before, t.after, t.temperature));
    L.push('');
  }
  if (e.crop) {
    const c = e.crop;
    L.push('### Crop calibration (the Haar box vs FER2013\'s registration)', '');
    L.push(
      `${c.faces} validation faces, each upscaled (INTER_CUBIC) to a random ${c.faceSizes[0]}-${c.faceSizes[1]} px square in a 960x540 scene like the ` +
        `evaluation clip's, run through the kiosk's Haar detector with the kiosk's settings (${Object.entries(c.detection).map(([k, v]) => `${k} ${String(v)}`).join(', ')}): ` +
        `${c.detected} detected (${pct(c.detectionRate, 1)}). The FER2013 frame relative to the matching box (median): side ${c.geometry.scale} x the box, ` +
        `centre offset (${c.geometry.offsetX}, ${c.geometry.offsetY}) box sizes; interquartile range of the scale ${c.iqr['scale']?.join('-')}, ` +
        `x offset ${c.iqr['offsetX']?.join(' to ')}, y offset ${c.iqr['offsetY']?.join(' to ')}.`,
      '',
    );
    if (c.accuracy) {
      L.push(`Accuracy on the same ${c.accuracy.n} detected faces, cut (the runtime's cropGray) at each geometry, vs the same images as native 48x48 crops (${pct(c.accuracy.native)}):`, '');
      L.push('| crop | accuracy | vs native |', '|---|---:|---:|');
      for (const r of c.accuracy.crops) L.push(`| ${r.crop} | ${pct(r.accuracy)} | ${r.deltaPoints >= 0 ? '+' : ''}${r.deltaPoints.toFixed(2)} points |`);
      L.push('');
    }
  }
  if (e.clips?.length) {
    L.push('### Through the detector: evaluation clips from validation faces', '');
    L.push(
      '`emotion-kiosk evaluate --clip` on clips made by `scripts/make-eval-clip.ts --list models/splits/fer2013-val.txt` (the kiosk pipeline with its ' +
        'default detection and tracking settings). Accuracy is per face-frame, over the few hundred distinct images a clip shows, so its ' +
        'difference to native crops varies from clip to clip by several points; the paired figure of the crop calibration above (every detected ' +
        'validation face once) is the precise one.',
      '',
    );
    L.push('| clip | frames | detection | detected faces | same faces, native crops | difference | pairs followed (classifier right) | emotion_changed on statics |', '|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of e.clips) {
      L.push(
        `| ${path.basename(path.dirname(c.clip))}/${path.basename(c.clip)} (${c.modelVersion}) | ${c.frames} | ${pct(c.detection.rate, 1)} of ${c.detection.truthFaces} | ${pct(c.accuracy.detected, 1)} | ` +
          `${pct(c.accuracy.nativeSameFrames, 1)} | ${c.accuracy.deltaPoints >= 0 ? '+' : ''}${c.accuracy.deltaPoints} points (${c.accuracy.n} face-frames) | ` +
          `${c.pairs.followedCorrect}/${c.pairs.correct} (${pct(c.pairs.followRateCorrect, 1)}) | ${c.statics.changes} on ${c.statics.n} |`,
      );
    }
    L.push('');
  }
  return L;
}
