/** The model files: the .onnx, its manifest, a session that loads and answers, and the Haar cascade. */
import type { ModelManifest } from '../model/index.js';
import { fail, ok, warn, type CheckResult } from './result.js';

export type ModelLoad = { manifest: ModelManifest; path: string } | { error: string; path: string };

export function checkModelLoad(r: ModelLoad): CheckResult {
  const fix = `reinstall the release (device/setup.sh --bundle ...) or set model.path in the config to an .onnx with its manifest next to it`;
  if ('error' in r) return fail('model', `${r.path}: ${r.error}`, fix);
  const m = r.manifest;
  const details = [
    `${m.name} ${m.version}, input ${m.input.shape.join('x')}, ${m.quantization ? `${m.quantization.format} ${m.quantization.weights}` : 'float'}`,
    m.metrics ? `accuracy ${(m.metrics.accuracy * 100).toFixed(1)}% on ${m.metrics.dataset} (n=${m.metrics.n})` : 'no measured accuracy in the manifest',
  ];
  if (m.untrained) {
    return warn('model', `${r.path} is an UNTRAINED network (random weights): its emotions mean nothing`, 'install a release with a trained model (models/deep_emotion.int8.onnx)', details);
  }
  return ok('model', `${r.path} loads and answers`, details);
}

export function checkCascade(r: { path: string; error?: string }): CheckResult {
  if (r.error) return fail('cascade', r.error, 'reinstall the release, or point detection.cascade at an OpenCV Haar cascade XML (apt install opencv-data has them)');
  return ok('cascade', `face detector ${r.path}`);
}
