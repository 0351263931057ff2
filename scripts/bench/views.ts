/**
 * Per-face cost of each test-time view set (the validation ablation's, src/onnx/view-sets.ts) on one core: one
 * face at a time through the runtime's path (cropsToTensorData with the views, one onnxruntime run of all of them,
 * softmax + average), one intra-op thread, real PublicTest crops. Measurements interleave the sets face by face so
 * machine noise hits all alike. The budget: <= 2.0 ms per face p50 for all views together.
 *   npm run bench -- views [--model models/deep_emotion.int8.onnx] [--out views-cost.json]
 * (--out: the figures as JSON, for scripts/report.ts --evaluation.)
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadManifest } from '../../src/model/manifest.js';
import { cropsToTensorData, faceProbabilities, viewCount } from '../../src/model/preprocess.js';
import { evenlySpaced, listFaceImages, readGreyFace } from '../../src/onnx/fer-images.js';
import { GraphRunner } from '../../src/onnx/ort-runner.js';
import { ABLATION_VIEW_SETS } from '../../src/onnx/view-sets.js';
import { quantile } from '../../src/util/stats.js';
import { fer2013Dir } from '../lib/fer2013-dir.js';

const FER = fer2013Dir;

export async function benchViews(argv: readonly string[]): Promise<void> {
  const i = argv.indexOf('--model');
  const model = i >= 0 && argv[i + 1] ? argv[i + 1]! : 'models/deep_emotion.int8.onnx';
  const manifest = await loadManifest(model);
  const size = manifest.input.shape[2];
  const geom = { height: size, width: size };
  const faces = evenlySpaced(listFaceImages(path.join(FER, 'test')), 64).map((f) => readGreyFace(f.file, size));
  const runner = await GraphRunner.open(model);
  const out = manifest.output.name;
  const classes = manifest.labels.length;
  console.log(`${model} (${manifest.version}); onnxruntime-node, 1 intra-op thread; one face per run, all its views in one batch; ${faces.length} real PublicTest crops`);
  try {
    const ms: number[][] = ABLATION_VIEW_SETS.map(() => []);
    const once = async (k: number, face: Uint8Array) => {
      const views = ABLATION_VIEW_SETS[k]!.views;
      const t0 = performance.now();
      const data = cropsToTensorData([face], geom, manifest.normalization, views);
      const raw = (await runner.run(data, viewCount(views), size, [out])).get(out)!.data;
      faceProbabilities(raw, manifest.output.kind, 1, viewCount(views), classes, manifest.temperature ?? 1);
      return performance.now() - t0;
    };
    for (let k = 0; k < ABLATION_VIEW_SETS.length; k++) for (const f of faces.slice(0, 10)) await once(k, f); // warm-up
    // Interleaved face by face (the order rotating), so a busy moment of the machine hits every set alike.
    const runs = 400;
    for (let r = 0; r < runs; r++) {
      for (let j = 0; j < ABLATION_VIEW_SETS.length; j++) {
        const k = (j + r) % ABLATION_VIEW_SETS.length;
        ms[k]!.push(await once(k, faces[r % faces.length]!));
      }
    }
    const rows = ABLATION_VIEW_SETS.map((s, k) => ({ name: s.name, views: viewCount(s.views), p50: quantile(ms[k]!, 0.5), p95: quantile(ms[k]!, 0.95) }));
    const o = argv.indexOf('--out');
    if (o >= 0 && argv[o + 1]) {
      writeFileSync(argv[o + 1]!, JSON.stringify({ what: 'ms per face, all views in one onnxruntime run, 1 intra-op thread', model, version: manifest.version, runs, rows }, null, 1) + '\n');
      console.log(`-> ${argv[o + 1]}`);
    }
    console.log(`\n${runs} faces per set; views  p50 ms/face  p95 ms/face  p50 ms/view  within 2.0 ms  set`);
    ABLATION_VIEW_SETS.forEach((s, k) => {
      const v = viewCount(s.views);
      const p50 = quantile(ms[k]!, 0.5);
      console.log(`${String(v).padStart(5)} ${p50.toFixed(3).padStart(12)} ${quantile(ms[k]!, 0.95).toFixed(3).padStart(12)} ${(p50 / v).toFixed(3).padStart(12)}  ${(p50 <= 2 ? 'yes' : 'no').padStart(13)}  ${s.name}`);
    });
  } finally {
    await runner.close();
  }
}
