/**
 * Per-face latency of the float vs the int8 Deep_Emotion model in onnxruntime-node (one intra-op thread, the
 * runtime's session settings), batch 1 and batch 8, on real PublicTest face crops. Float is the baseline measured
 * in the same run; rounds alternate between the two models so machine noise hits both alike.
 * Uses models/deep_emotion.onnx + models/deep_emotion.int8.onnx; without them, an untrained export quantized here
 * (same graph, same cost), and says so.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadManifest } from '../../src/model/manifest.js';
import { viewCount, viewsOf, cropsToTensorData } from '../../src/model/preprocess.js';
import { evenlySpaced, listFaceImages, readGreyFace } from '../../src/onnx/fer-images.js';
import { GraphRunner } from '../../src/onnx/ort-runner.js';
import { quantizeModelFile } from '../../src/onnx/quantize-model.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { quantile } from '../../src/util/stats.js';
import { fer2013Dir } from '../lib/fer2013-dir.js';

const FER = fer2013Dir;
const SHIPPED_FLOAT = 'models/deep_emotion.onnx';
const SHIPPED_INT8 = 'models/deep_emotion.int8.onnx';

async function models(): Promise<{ float: string; int8: string; note: string; cleanup: () => void }> {
  if (existsSync(SHIPPED_FLOAT) && existsSync(SHIPPED_INT8)) return { float: SHIPPED_FLOAT, int8: SHIPPED_INT8, note: 'shipped models', cleanup: () => {} };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ek-bench-model-'));
  const float = await makeUntrainedModel(dir);
  const int8 = path.join(dir, 'deep_emotion.untrained.int8.onnx');
  await quantizeModelFile(float, int8, { calibrationData: path.join(FER, 'train'), calibrationImages: 200 });
  return { float, int8, note: 'UNTRAINED export quantized here (models/ has no shipped pair yet): same graph and cost as the trained one', cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function benchModel(): Promise<void> {
  const { float, int8, note, cleanup } = await models();
  try {
    const manifest = await loadManifest(float);
    const size = manifest.input.shape[2];
    const faces = evenlySpaced(listFaceImages(path.join(FER, 'test')), 64).map((f) => readGreyFace(f.file, size));
    const data = cropsToTensorData(faces, { height: size, width: size }, manifest.normalization);
    console.log(`models: ${note}`);
    console.log(`  float ${float} (${statSync(float).size} bytes), int8 ${int8} (${statSync(int8).size} bytes, ${(statSync(int8).size / statSync(float).size).toFixed(3)} of float)`);
    const views = viewCount(viewsOf(manifest));
    if (views > 1) {
      const what = `${manifest.cropZooms.length === 1 ? `crop zoom ${manifest.cropZooms[0]}` : `crop zooms ${manifest.cropZooms.join(', ')}`}${manifest.testTimeFlip ? ', each with its mirror image' : ''}`;
      console.log(`  the manifests ask for ${views} test-time views of each face (${what}): the runtime's cost per face is ${views}x the figures below`);
    }
    console.log(`onnxruntime-node, intraOpNumThreads 1, graph optimisation "all"; ${faces.length} real PublicTest crops; p50/p95 of per-face ms (run time / batch)`);
    const runners = { float: await GraphRunner.open(float), int8: await GraphRunner.open(int8) };
    try {
      console.log('\nbatch  model   p50 ms/face  p95 ms/face   runs');
      for (const batch of [1, 8]) {
        const perFace: Record<'float' | 'int8', number[]> = { float: [], int8: [] };
        const rounds = 10;
        const runsPerRound = batch === 1 ? 40 : 10;
        let offset = 0;
        const next = () => {
          const n = batch;
          const start = (offset * size * size) % (data.length - n * size * size + 1);
          offset += n;
          return data.subarray(start, start + n * size * size);
        };
        for (const kind of ['float', 'int8'] as const) for (let i = 0; i < 10; i++) await runners[kind].run(next(), batch, size); // warm-up
        for (let r = 0; r < rounds; r++) {
          for (const kind of (r % 2 ? ['int8', 'float'] : ['float', 'int8']) as Array<'float' | 'int8'>) {
            for (let i = 0; i < runsPerRound; i++) {
              const x = next();
              const t0 = performance.now();
              await runners[kind].run(x, batch, size);
              perFace[kind].push((performance.now() - t0) / batch);
            }
          }
        }
        const p = (k: 'float' | 'int8', q: number) => quantile(perFace[k], q);
        for (const kind of ['float', 'int8'] as const) {
          console.log(`${String(batch).padStart(5)}  ${kind.padEnd(6)} ${p(kind, 0.5).toFixed(3).padStart(12)} ${p(kind, 0.95).toFixed(3).padStart(12)} ${String(perFace[kind].length).padStart(6)}`);
        }
        console.log(`       ratio float/int8 p50: ${(p('float', 0.5) / p('int8', 0.5)).toFixed(2)}x  (>1: int8 faster)`);
      }
    } finally {
      await runners.float.close();
      await runners.int8.close();
    }
  } finally {
    cleanup();
  }
}
