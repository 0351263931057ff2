/**
 * Pipeline throughput on OpenCV's Megamind.avi, on ONE core (children pinned with taskset) and on all cores: decode + detect alone vs
 * the whole pipeline (decode, detect, classify all faces in one batch, track, events), their ratio, frame-to-event
 * latency, and what the detection settings cost in faces found.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultModelPath } from '../../src/util/paths.js';

const video = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
const here = path.dirname(fileURLToPath(import.meta.url));

/** The shipped defaults (src/config/schema.ts) and the settings they were tuned from. */
const settings = {
  'full frame (baseline)': { downscaleWidth: 0, scaleFactor: 1.1, minNeighbors: 3, minSize: 48 },
  '320 wide, 1.1 / 5': { downscaleWidth: 320, scaleFactor: 1.1, minNeighbors: 5, minSize: 48 },
  'shipped default': {},
} as const;

/** One run in a child: pinned to core 0 (taskset, OpenCV/OpenMP told one thread) or free on every core. */
function worker(mode: 'detect' | 'pipeline', model: string, detection: object, cores: 'one' | 'all' = 'one'): Record<string, number> {
  const args = ['--import', 'tsx', path.join(here, 'pipeline-worker.ts'), mode, video, model, JSON.stringify(detection)];
  const pin = cores === 'one' && existsSync('/usr/bin/taskset');
  const cmd = pin ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
  const env = cores === 'one' ? { ...process.env, OMP_NUM_THREADS: '1' } : process.env;
  const out = execFileSync(cmd[0] as string, cmd[1] as string[], { encoding: 'utf8', env });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

async function modelForBench(): Promise<{ file: string; note: string }> {
  if (existsSync(defaultModelPath)) return { file: defaultModelPath, note: 'shipped int8 model' };
  const { makeUntrainedModel } = await import('../../src/onnx/untrained.js');
  const file = await makeUntrainedModel(mkdtempSync(path.join(os.tmpdir(), 'ek-bench-')));
  return { file, note: 'UNTRAINED export (no shipped model yet): same graph and cost as the trained one' };
}

export async function benchPipeline(): Promise<void> {
  if (!existsSync(video)) throw new Error(`${video} missing: apt-get install opencv-doc`);
  const { file, note } = await modelForBench();
  console.log(`video ${video}; model ${file} (${note}); one core (taskset -c 0), onnxruntime 1 thread`);
  console.log('fps = frames per wall-clock second; cpu fps = frames per CPU second of the pinned process (less sensitive to other load)');
  console.log('\ndetection settings                      frames  with faces  detections  decode+detect fps   cpu fps');
  const detectOnly: Record<string, Record<string, number>> = {};
  for (const [name, det] of Object.entries(settings)) {
    const r = worker('detect', file, det);
    detectOnly[name] = r;
    console.log(`${name.padEnd(38)} ${String(r.frames).padStart(6)} ${String(r.framesWithFaces).padStart(11)} ${String(r.faces).padStart(11)} ${r.fps!.toFixed(1).padStart(18)} ${r.cpuFps!.toFixed(1).padStart(9)}`);
  }
  const base = detectOnly['full frame (baseline)']!;
  const tuned = detectOnly['shipped default']!;
  console.log(
    `\nshipped default vs full frame: ${(tuned.fps! / base.fps!).toFixed(2)}x detect throughput, ` +
      `faces found on ${tuned.framesWithFaces}/${tuned.frames} frames vs ${base.framesWithFaces}/${base.frames} ` +
      `(${(((tuned.framesWithFaces! - base.framesWithFaces!) / Math.max(1, base.framesWithFaces!)) * 100).toFixed(1)}%)`,
  );
  const p = worker('pipeline', file, settings['shipped default']);
  const d2 = worker('detect', file, settings['shipped default']);
  const detFps = (tuned.fps! + d2.fps!) / 2;
  const detCpuFps = (tuned.cpuFps! + d2.cpuFps!) / 2;
  console.log(`\nwhole pipeline (shipped default): ${p.fps} fps (${p.cpuFps!.toFixed(1)} cpu fps); decode+detect alone ${detFps.toFixed(1)} fps (${detCpuFps.toFixed(1)} cpu fps), mean of 2 runs around it`);
  console.log(`ratio pipeline / detect-only: ${(p.fps! / detFps).toFixed(3)} wall, ${(p.cpuFps! / detCpuFps).toFixed(3)} cpu (goal >= 0.9)`);
  console.log(`frame-to-event latency: p50 ${p.eventLatencyMsP50} ms, p95 ${p.eventLatencyMsP95} ms over ${p.events} events`);
  console.log(`per frame: detect p50 ${p.detectMsP50} ms, classify p50 ${p.classifyMsP50} ms (frames with faces)`);
  // A Pi has four cores: what OpenCV's own threads (detectMultiScale's parallel_for, the decoder) make of them.
  const all = worker('pipeline', file, settings['shipped default'], 'all');
  const n = os.availableParallelism();
  console.log(
    `\ncores: whole pipeline on one core ${p.fps!.toFixed(1)} fps, on all ${n} cores ${all.fps!.toFixed(1)} fps: ` +
      `${(all.fps! / p.fps!).toFixed(2)}x (${all.cpuFps!.toFixed(1)} frames per CPU second; onnxruntime 1 thread as configured by default)`,
  );
}
