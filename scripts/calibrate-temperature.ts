/**
 * Honest confidences (issue 13): fits the softmax temperature of a model on the validation split (minimum NLL of
 * the runtime's probabilities: each of the manifest's test-time views tempered, then averaged), prints ECE
 * (15 bins) and the reliability table before and after, and with --write stores the temperature in the model's
 * manifest, where the runtime classifier applies it. Fit float and int8 models separately (each its own manifest).
 *
 *   nice -n 5 node --import tsx scripts/calibrate-temperature.ts --model models/deep_emotion.int8.onnx [--write] \
 *     [--list models/splits/fer2013-val.txt] [--data ../shared/fer2013] [--out models/reports/<run>/temperature.json]
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fer2013Dir } from './lib/fer2013-dir.js';
import { loadManifest, manifestPathFor, manifestSchema } from '../src/model/manifest.js';
import { viewCount, viewsOf } from '../src/model/preprocess.js';
import { GraphRunner } from '../src/onnx/ort-runner.js';
import { calibration, fitTemperature, probabilitiesAt, reliabilityTable } from '../src/onnx/temperature.js';
import { readSplitFaces } from '../src/training/validation-set.js';
import { ViewLogitCache } from '../src/onnx/view-logits.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    write: { type: 'boolean', default: false },
    list: { type: 'string', default: 'models/splits/fer2013-val.txt' },
    data: { type: 'string', default: fer2013Dir },
    out: { type: 'string' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`calibrate-temperature: ${msg}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  if (!a.model) fail('--model <file.onnx> is required');
  const manifest = await loadManifest(a.model);
  const val = readSplitFaces(a.list!, a.data!, manifest.input.shape[2]);
  const truth = val.labels.map((l) => manifest.labels.indexOf(l));
  const runner = await GraphRunner.open(a.model);
  let logits;
  try {
    const cache = new ViewLogitCache(runner, val.faces, manifest.input.shape[2], manifest.normalization, manifest.output.name, manifest.labels.length);
    logits = await cache.of(viewsOf(manifest));
  } finally {
    await runner.close();
  }
  const fit = fitTemperature(logits, truth);
  const before = calibration(probabilitiesAt(logits, 1), truth, logits.classes);
  const after = calibration(probabilitiesAt(logits, fit.temperature), truth, logits.classes);
  const t = Math.round(fit.temperature * 10000) / 10000;
  const views = `${viewCount(viewsOf(manifest))} views (zooms ${manifest.cropZooms.join(', ')}${manifest.testTimeFlip ? ', flip' : ''})`;
  process.stdout.write(
    `${a.model} (${manifest.version}), ${views}, ${val.faces.length} validation faces (${a.list}):\n` +
      `  temperature ${t}; NLL ${before.nll.toFixed(4)} -> ${after.nll.toFixed(4)}; ECE (15 bins) ${(before.ece * 100).toFixed(2)}% -> ${(after.ece * 100).toFixed(2)}%; accuracy ${(after.accuracy * 100).toFixed(2)}%\n` +
      (manifest.temperature !== undefined ? `  (the manifest had temperature ${manifest.temperature})\n` : '') +
      reliabilityTable(before, after, t).map((l) => `  ${l}\n`).join(''),
  );
  if (a.out) {
    mkdirSync(path.dirname(path.resolve(a.out)), { recursive: true });
    writeFileSync(a.out, JSON.stringify({ model: a.model, version: manifest.version, views, split: a.list, n: val.faces.length, temperature: t, before, after }, null, 1) + '\n');
  }
  if (a.write) {
    const file = manifestPathFor(a.model);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    json['temperature'] = t;
    const parsed = manifestSchema.safeParse(json);
    if (!parsed.success) fail(`${file} would be invalid with temperature ${t}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
    await loadManifest(a.model);
    process.stdout.write(`  wrote temperature ${t} into ${file}\n`);
  }
}

main().catch((err: unknown) => fail((err as Error).message));
