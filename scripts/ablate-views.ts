/**
 * Test-time views ablation on the validation split (issue 13): for each view set, top-1 accuracy, macro-F1, NLL
 * and ECE (15 bins) of the runtime's view-averaged probabilities, at temperature 1 and at the temperature fitted
 * on the same split for that view set. The network runs once per distinct view (src/onnx/view-logits.ts).
 * Per-face cost is not measured here: `npm run bench -- views` (one core).
 *
 *   nice -n 5 node --import tsx scripts/ablate-views.ts --model m.int8.onnx [--model m.onnx] \
 *     [--list models/splits/fer2013-val.txt] [--data ../shared/fer2013] [--out models/reports/<run>/views.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fer2013Dir } from './lib/fer2013-dir.js';
import { loadManifest } from '../src/model/manifest.js';
import { confusionMatrix, reportFromConfusion } from '../src/model/metrics.js';
import { viewCount, viewsOf } from '../src/model/preprocess.js';
import { GraphRunner } from '../src/onnx/ort-runner.js';
import { calibration, fitTemperature, probabilitiesAt } from '../src/onnx/temperature.js';
import { readSplitFaces } from '../src/training/validation-set.js';
import { ViewLogitCache } from '../src/onnx/view-logits.js';
import { ABLATION_VIEW_SETS } from '../src/onnx/view-sets.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    list: { type: 'string', default: 'models/splits/fer2013-val.txt' },
    data: { type: 'string', default: fer2013Dir },
    out: { type: 'string' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`ablate-views: ${msg}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  if (!a.model?.length) fail('--model <file.onnx> is required (several: each is measured)');
  const t0 = performance.now();
  const val = readSplitFaces(a.list!, a.data!);
  const results = [];
  for (const model of a.model) {
    const manifest = await loadManifest(model);
    const size = manifest.input.shape[2];
    const truth = val.labels.map((l) => manifest.labels.indexOf(l));
    const runner = await GraphRunner.open(model);
    try {
      const cache = new ViewLogitCache(runner, val.faces, size, manifest.normalization, manifest.output.name, manifest.labels.length);
      const sets = [...ABLATION_VIEW_SETS, { name: `this manifest (zooms ${manifest.cropZooms.join(', ')}${manifest.testTimeFlip ? ', flip' : ''})`, views: viewsOf(manifest) }];
      const rows = [];
      for (const set of sets) {
        const logits = await cache.of(set.views);
        const p1 = probabilitiesAt(logits, 1);
        const predicted = Array.from({ length: logits.n }, (_, i) => {
          let top = 0;
          for (let k = 1; k < logits.classes; k++) if (p1[i * logits.classes + k]! > p1[i * logits.classes + top]!) top = k;
          return top;
        });
        const report = reportFromConfusion(confusionMatrix(truth, predicted, logits.classes), manifest.labels);
        const before = calibration(p1, truth, logits.classes);
        const fit = fitTemperature(logits, truth);
        const after = calibration(probabilitiesAt(logits, fit.temperature), truth, logits.classes);
        rows.push({
          name: set.name,
          views: viewCount(set.views),
          accuracy: report.accuracy,
          macroF1: report.macroF1,
          nll: before.nll,
          ece: before.ece,
          temperature: fit.temperature,
          nllAfter: after.nll,
          eceAfter: after.ece,
        });
        process.stdout.write(
          `${path.basename(model)}  ${set.name.padEnd(44)} ${String(viewCount(set.views)).padStart(2)} views  acc ${(report.accuracy * 100).toFixed(2)}%  ` +
            `F1 ${report.macroF1.toFixed(3)}  ECE ${(before.ece * 100).toFixed(2)}% -> ${(after.ece * 100).toFixed(2)}% at T ${fit.temperature.toFixed(3)}\n`,
        );
      }
      results.push({ model, version: manifest.version, quantization: manifest.quantization ? manifest.quantization.format : 'float', rows });
    } finally {
      await runner.close();
    }
  }
  const out = {
    what: 'test-time views on the validation split: accuracy, macro-F1, NLL, ECE (15 bins) at T = 1 and at the temperature fitted on this split (in-sample: 1 parameter)',
    split: a.list,
    n: val.faces.length,
    results,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  if (a.out) {
    mkdirSync(path.dirname(path.resolve(a.out)), { recursive: true });
    writeFileSync(a.out, JSON.stringify(out, null, 1) + '\n');
    process.stdout.write(`-> ${a.out} (${out.seconds} s)\n`);
  }
}

main().catch((err: unknown) => fail((err as Error).message));
