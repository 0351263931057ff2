/**
 * Picks the TensorFlow.js backend for training: @tensorflow/tfjs-node when importable (training hosts; an
 * optionalDependency that needs libtensorflow), otherwise wasm (SIMD, one thread under Node) with the gradient
 * kernels it lacks registered, or the pure-JS cpu backend (slow; reference for tests).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerConvGradientKernels, registerWasmGradientKernels } from './wasm-gradients.js';

export type BackendKind = 'auto' | 'node' | 'wasm' | 'cpu';
export const BACKEND_KINDS: readonly BackendKind[] = ['auto', 'node', 'wasm', 'cpu'];

const require = createRequire(import.meta.url);

let wasmLoaded = false;
let nodeTried: boolean | null = null;

/** Whether @tensorflow/tfjs-node loads on this machine (its native binding is present). */
export async function nodeBackendAvailable(): Promise<boolean> {
  if (nodeTried !== null) return nodeTried;
  try {
    const name = '@tensorflow/tfjs-node';
    await import(name);
    nodeTried = true;
  } catch {
    nodeTried = false;
  }
  return nodeTried;
}

/** Directory holding tfjs-backend-wasm's .wasm binaries (a file path: nothing is fetched). */
export function wasmBinaryDir(): string {
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  let dir = path.dirname(main);
  for (let i = 0; i < 4 && !existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm')); i++) {
    const cand = path.join(dir, 'dist');
    if (existsSync(path.join(cand, 'tfjs-backend-wasm-simd.wasm'))) {
      dir = cand;
      break;
    }
    dir = path.dirname(dir);
  }
  if (!existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm'))) {
    throw new Error(`tfjs-backend-wasm binaries not found near ${main}; reinstall @tensorflow/tfjs-backend-wasm`);
  }
  return dir + path.sep;
}

async function loadWasm(): Promise<void> {
  if (wasmLoaded) return;
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmBinaryDir());
  registerWasmGradientKernels();
  wasmLoaded = true;
}

/** Activates a backend and returns the name tfjs uses for it ('tensorflow', 'wasm' or 'cpu'). */
export async function initBackend(kind: BackendKind): Promise<string> {
  let name: string;
  if (kind === 'node' || kind === 'auto') {
    if (await nodeBackendAvailable()) {
      name = 'tensorflow';
    } else if (kind === 'node') {
      throw new Error('--backend node: @tensorflow/tfjs-node is not installed or its native binding is missing (npm rebuild @tensorflow/tfjs-node on a training host); use --backend wasm');
    } else {
      await loadWasm();
      name = 'wasm';
    }
  } else if (kind === 'wasm') {
    await loadWasm();
    name = 'wasm';
  } else {
    registerConvGradientKernels('cpu');
    name = 'cpu';
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TensorFlow.js backend "${name}" failed to initialise`);
  await tf.ready();
  return tf.getBackend();
}
