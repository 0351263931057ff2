// Runs both shipped models on fixed inputs and prints what they return, bit-exactly, as one JSON object on stdout.
// Plain JavaScript (no tsx: esbuild has no arm64 binary here), so the same file runs under this host's node and
// under the arm64 node in qemu (test/arm64/models.test.ts compares the two).
//   node test/arm64/model-scores.mjs <app root with dist/ and models/>
// For each model: the raw onnxruntime output (logits, every view of every crop) and the classifier's per-face
// probabilities (EmotionClassifier.classifyRaw from dist/, the kiosk's own path), each value as its float32 bits.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(process.argv[2] ?? '.');
const { EmotionClassifier } = await import(pathToFileURL(path.join(root, 'dist/model/emotion-classifier.js')).href);
const { loadManifest } = await import(pathToFileURL(path.join(root, 'dist/model/manifest.js')).href);
const { cropsToTensorData, inputGeometry, viewCount, viewsOf } = await import(pathToFileURL(path.join(root, 'dist/model/preprocess.js')).href);
const ort = (await import('onnxruntime-node')).default ?? (await import('onnxruntime-node'));

/** Deterministic 8-bit grey crops: smooth face-like gradients plus seeded noise (xorshift32), and two flat ones. */
function crops(size, n) {
  const out = [];
  let s = 0x9e3779b9;
  const rnd = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
  for (let k = 0; k < n; k++) {
    const c = new Uint8Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const dx = (x - size / 2) / size, dy = (y - size / 2) / size;
        const blob = 160 * Math.exp(-(dx * dx + dy * dy) * (4 + k));
        const eyes = (Math.abs(dy + 0.12) < 0.05 && Math.abs(Math.abs(dx) - 0.18) < 0.06) ? -90 : 0;
        const mouth = (Math.abs(dy - 0.2 - 0.02 * k) < 0.03 && Math.abs(dx) < 0.15 + 0.02 * k) ? -70 : 0;
        const v = 40 + blob + eyes + mouth + 30 * (rnd() - 0.5) + 8 * k;
        c[y * size + x] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
    out.push(c);
  }
  out.push(new Uint8Array(size * size).fill(0), new Uint8Array(size * size).fill(255));
  return out;
}

const bits = (f32) => Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength).toString('hex');
const result = { arch: process.arch, node: process.version, models: {} };
for (const file of ['deep_emotion.int8.onnx', 'deep_emotion.onnx']) {
  const modelPath = path.join(root, 'models', file);
  const manifest = await loadManifest(modelPath);
  const geometry = inputGeometry(manifest);
  const faces = crops(geometry.width, 6);
  // Raw: the session on the kiosk's own input tensor (all views), one run.
  const views = viewsOf(manifest);
  const data = cropsToTensorData(faces, geometry, manifest.normalization, views);
  const batch = faces.length * viewCount(views);
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const out = await session.run({ [manifest.input.name]: new ort.Tensor('float32', data, [batch, 1, geometry.height, geometry.width]) });
  const raw = out[manifest.output.name].data;
  await session.release?.();
  // The classifier as the kiosk uses it.
  const classifier = await EmotionClassifier.load(modelPath, { intraOpThreads: 1 });
  const probs = await classifier.classifyRaw(faces);
  await classifier.close();
  result.models[file] = {
    // The input tensor itself (JavaScript preprocessing): equal on both sides, or the comparison means nothing.
    input: createHash('sha256').update(Buffer.from(new Float32Array(data).buffer)).digest('hex'),
    batch,
    raw: bits(raw),
    probabilities: probs.map(bits),
  };
}
process.stdout.write(JSON.stringify(result) + '\n');
