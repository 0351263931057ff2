/**
 * Pipeline throughput on OpenCV's Megamind.avi, on ONE core (children pinned with taskset) and on all cores: decode + detect alone vs
 * the whole pipeline (decode, detect, classify all faces in one batch, track, events), their ratio, frame-to-event
 * latency, and what the detection settings cost in faces found. Then the cores: the whole pipeline with and without
 * prefetching (the next frame decoded while this one is detected and classified, as the kiosk runs), on one core and
 * on all, each with the load the rest of the machine put on it meanwhile. `npm run bench -- pipeline --cores-only`
 * runs only that part.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
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
function worker(mode: 'detect' | 'pipeline', model: string, detection: object, cores: 'one' | 'all' = 'one', prefetch = false): Record<string, number> {
  const args = ['--import', 'tsx', path.join(here, 'pipeline-worker.ts'), mode, video, model, JSON.stringify(detection), ...(prefetch ? ['prefetch'] : [])];
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

/** Busy and total CPU time of the whole machine so far (/proc/stat, all cores), in seconds. */
function machineCpu(): { busyS: number; totalS: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (already in user)
    return { busyS: (total - idle) / 100, totalS: total / 100 };
  } catch {
    return undefined;
  }
}

interface CoreRun {
  fps: number;
  cpuFps: number;
  /** Mean time the pipeline waited in read() per frame: the capture/decode not overlapped with its work. */
  readWaitMs: number;
  /** Cores' worth of CPU the rest of the machine used during the run (all busy time minus the run's own). */
  othersCores: number | undefined;
  load1: number;
}

/** One whole-pipeline run, and what else was running meanwhile. */
function measured(model: string, cores: 'one' | 'all', prefetch: boolean): CoreRun {
  const before = machineCpu();
  const t0 = performance.now();
  const r = worker('pipeline', model, settings['shipped default'], cores, prefetch);
  const wallS = (performance.now() - t0) / 1000;
  const after = machineCpu();
  const ownS = r.frames! / r.cpuFps!;
  const othersCores = before && after ? Math.max(0, (after.busyS - before.busyS - ownS) / wallS) : undefined;
  return { fps: r.fps!, cpuFps: r.cpuFps!, readWaitMs: r.readWaitMsPerFrame!, othersCores, load1: os.loadavg()[0]! };
}

/** Core scaling with and without prefetch, interleaved (this machine's load changes by the minute), two rounds. */
async function benchCores(model: string): Promise<void> {
  const n = os.availableParallelism();
  const load = () => `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${n} cores`;
  console.log(`\ncores and prefetch (whole pipeline, shipped default detection, onnxruntime 1 thread); ${load()} before`);
  console.log('run                         fps   cpu fps   waits for a frame (ms/frame)   others\' CPU during it (cores)   load1');
  const runs: Record<string, CoreRun[]> = {};
  for (let round = 0; round < 2; round++) {
    for (const [name, cores, prefetch] of [
      ['one core', 'one', false],
      ['one core, prefetch', 'one', true],
      ['all cores', 'all', false],
      ['all cores, prefetch', 'all', true],
    ] as const) {
      const r = measured(model, cores, prefetch);
      (runs[name] ??= []).push(r);
      console.log(`${`${name} (${round + 1})`.padEnd(24)} ${r.fps.toFixed(1).padStart(6)} ${r.cpuFps.toFixed(1).padStart(9)} ${r.readWaitMs.toFixed(2).padStart(30)} ${(r.othersCores === undefined ? '?' : r.othersCores.toFixed(2)).padStart(32)} ${r.load1.toFixed(2).padStart(7)}`);
    }
  }
  const best = (name: string) => Math.max(...runs[name]!.map((r) => r.fps));
  const [one, onePf, all, allPf] = ['one core', 'one core, prefetch', 'all cores', 'all cores, prefetch'].map(best) as [number, number, number, number];
  console.log(`\nbest of 2 (the run the rest of the machine disturbed least): one core ${one.toFixed(1)} fps, with prefetch ${onePf.toFixed(1)} (${(onePf / one).toFixed(2)}x)`);
  console.log(`all ${n} cores ${all.toFixed(1)} fps, with prefetch ${allPf.toFixed(1)} (${(allPf / all).toFixed(2)}x)`);
  const wait = (name: string) => Math.min(...runs[name]!.map((r) => r.readWaitMs));
  console.log(
    `waiting for frames: one core ${wait('one core').toFixed(2)} -> ${wait('one core, prefetch').toFixed(2)} ms/frame with prefetch, ` +
      `all cores ${wait('all cores').toFixed(2)} -> ${wait('all cores, prefetch').toFixed(2)} ms/frame (least of 2)`,
  );
  console.log(`core scaling: ${(all / one).toFixed(2)}x without prefetch, ${(allPf / onePf).toFixed(2)}x with; all cores + prefetch vs one core without: ${(allPf / one).toFixed(2)}x`);
  console.log(`(${load()} after)`);
}

export async function benchPipeline(): Promise<void> {
  if (!existsSync(video)) throw new Error(`${video} missing: apt-get install opencv-doc`);
  const { file, note } = await modelForBench();
  if (process.argv.includes('--cores-only')) return benchCores(file);
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
  await benchCores(file);
}
