/**
 * The whole kiosk on arm64 under qemu user-mode emulation, compared with this x86-64 host (issue 14, item 1).
 * `npm run test:arm64` runs scripts/arm64/build-app.sh (sysroot, arm64 node, cross-compiled OpenCV add-on, dist/)
 * and then this:
 *   node --import tsx scripts/arm64/check.ts [--cpus cortex-a72,cortex-a76,neoverse-n1] [--parallel] [--no-frames]
 *                                            [--no-evaluate] [--steps run,frames,doctor,evaluate] [--out <dir>]
 * For x86-64 (this host's node, <cache>/app-x64) and each CPU model (scripts/arm64/node.sh <cpu>, <cache>/app):
 *   run       emotion-kiosk run --source Megamind.avi --headless --broker none --events json (+ --summary-json)
 *   frames    scripts/arm64/frames.mjs: per frame the decoded frame's hash, Haar boxes, crop hashes, int8 scores
 *   doctor    emotion-kiosk doctor --json with a config whose source is Megamind.avi (the camera check reads it)
 *   evaluate  emotion-kiosk evaluate --data <500 FER2013 PublicTest images> --json (links in <cache>/fer500 to
 *             $FER2013_DIR, default ../shared/fer2013; skipped with the reason where it is absent)
 * and compares each CPU model's results with x86-64's: the event sequence (type, faceId, emotion, frameIndex, box,
 * and the scores' bits), every frame of the trace, the doctor statuses, the evaluation's confusion matrix.
 * Prints a table and writes <out>/report.json (default <cache>/runs). Exit status 1 if anything differs.
 * --parallel runs the CPU models at the same time (wall times then overlap; the CPU seconds stay comparable).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cache = process.env.EMOTION_KIOSK_ARM64_CACHE ?? '/var/cache/emotion-kiosk-arm64';
const video = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
const fer = process.env.FER2013_DIR ?? path.resolve(repo, '..', 'shared', 'fer2013');

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const cpus = (value('--cpus') ?? 'cortex-a72,cortex-a76,neoverse-n1').split(',').filter(Boolean);
const out = path.resolve(value('--out') ?? path.join(cache, 'runs'));
const steps = new Set((value('--steps') ?? 'run,frames,doctor,evaluate').split(','));
if (flag('--no-frames')) steps.delete('frames');
if (flag('--no-evaluate')) steps.delete('evaluate');
const withFrames = steps.has('frames');
const withEvaluate = steps.has('evaluate');
mkdirSync(out, { recursive: true });

interface Timed {
  rc: number;
  wallS: number;
  userS: number;
  sysS: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with bash's `time` (so the CPU seconds include qemu, the child), stdout/stderr to files. */
function timed(label: string, cmd: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Timed> {
  const stdout = path.join(out, `${label}.out`);
  const stderr = path.join(out, `${label}.err`);
  const times = path.join(out, `${label}.time`);
  const script = 'TIMEFORMAT="%R %U %S"; { time "$@" >"$EK_OUT" 2>"$EK_ERR"; } 2>"$EK_TIME"';
  return new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '5', 'bash', '-c', script, '_', ...cmd], {
      cwd,
      env: { ...process.env, ...env, EK_OUT: stdout, EK_ERR: stderr, EK_TIME: times },
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const [wallS, userS, sysS] = readFileSync(times, 'utf8').trim().split(/\s+/).map(Number) as [number, number, number];
      resolve({ rc: code ?? 1, wallS, userS, sysS, stdout: readFileSync(stdout, 'utf8'), stderr: readFileSync(stderr, 'utf8') });
    });
  });
}

/** 500 PublicTest images: the first of each class in name order, round robin (disgust has 56; the others 74). */
function evaluationSet(): string | undefined {
  const test = path.join(fer, 'test');
  if (!existsSync(test)) return undefined;
  const dir = path.join(cache, 'fer500');
  const classes = readdirSync(test).sort();
  const lists = classes.map((c) => readdirSync(path.join(test, c)).filter((f) => f.startsWith('PublicTest_')).sort());
  const picked: Array<[string, string]> = [];
  for (let k = 0; picked.length < 500 && lists.some((l) => l.length > k); k++) {
    lists.forEach((l, i) => {
      if (picked.length < 500 && l[k] !== undefined) picked.push([classes[i]!, l[k]!]);
    });
  }
  rmSync(dir, { recursive: true, force: true });
  for (const c of classes) mkdirSync(path.join(dir, c), { recursive: true });
  for (const [c, f] of picked) symlinkSync(path.join(test, c, f), path.join(dir, c, f));
  return dir;
}

interface Target {
  name: string;
  app: string;
  node: string[];
}

interface Results {
  name: string;
  run?: Timed & { events: unknown[]; summary: Record<string, unknown> };
  frames?: Timed & { lines: FrameLine[] };
  doctor?: Timed & { checks: Array<{ id: string; status: string; summary: string }> };
  evaluate?: Timed & { result: { n: number; accuracy: number; macroF1: number; confusionMatrix: number[][] } };
}

interface FrameLine {
  index: number;
  positionMs: number;
  frame: string;
  faces: Array<{ box: unknown; crop: string; p: string }>;
}

async function runTarget(t: Target, evalDir: string | undefined): Promise<Results> {
  const cli = [...t.node, path.join(t.app, 'dist', 'cli', 'main.js')];
  const r: Results = { name: t.name };
  const summary = path.join(out, `${t.name}.summary.json`);
  rmSync(summary, { force: true });
  if (steps.has('run')) {
    const run = await timed(`${t.name}.run`, [...cli, 'run', '--source', video, '--headless', '--broker', 'none', '--events', 'json', '--summary-json', summary], t.app, { EMOTION_KIOSK_DATA_DIR: path.join(out, `${t.name}.data`) });
    r.run = {
      ...run,
      events: run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown),
      summary: existsSync(summary) ? (JSON.parse(readFileSync(summary, 'utf8')) as Record<string, unknown>) : {},
    };
    log(t.name, 'run', run, `${r.run.summary.frames ?? '?'} frames, ${r.run.events.length} events`);
  }
  if (withFrames) {
    const f = await timed(`${t.name}.frames`, [...t.node, path.join(repo, 'scripts', 'arm64', 'frames.mjs'), t.app, video], t.app);
    r.frames = { ...f, lines: f.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FrameLine) };
    log(t.name, 'frames', f, `${r.frames.lines.length} frames traced`);
  }
  if (steps.has('doctor')) {
    const config = path.join(out, `${t.name}.config.yaml`);
    writeFileSync(config, `version: 2\nsource: ${JSON.stringify(video)}\nmqtt:\n  broker: none\ndataDir: ${JSON.stringify(path.join(out, `${t.name}.data`))}\n`);
    const d = await timed(`${t.name}.doctor`, [...cli, 'doctor', '--json', '--config', config], t.app);
    try {
      r.doctor = { ...d, checks: (JSON.parse(d.stdout) as { checks: Array<{ id: string; status: string; summary: string }> }).checks };
    } catch {
      r.doctor = { ...d, checks: [] };
    }
    log(t.name, 'doctor', d, r.doctor.checks.map((c) => `${c.id}=${c.status}`).join(' '));
  }
  if (evalDir && withEvaluate) {
    const e = await timed(`${t.name}.evaluate`, [...cli, 'evaluate', '--data', evalDir, '--json'], t.app);
    try {
      r.evaluate = { ...e, result: JSON.parse(e.stdout) as NonNullable<Results['evaluate']>['result'] };
      log(t.name, 'evaluate', e, `n=${r.evaluate.result.n} accuracy ${(100 * r.evaluate.result.accuracy).toFixed(2)}%`);
    } catch {
      log(t.name, 'evaluate', e, 'no JSON result');
    }
  }
  return r;
}

function log(name: string, step: string, t: Timed, what: string): void {
  const tail = t.rc === 0 ? '' : ` rc=${t.rc}: ${t.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  console.log(`${name.padEnd(12)} ${step.padEnd(9)} ${t.wallS.toFixed(1).padStart(7)} s wall ${(t.userS + t.sysS).toFixed(1).padStart(7)} s cpu  ${what}${tail}`);
}

/** The part of an event that must not depend on the machine (ids and wall-clock times do). */
function eventKey(e: unknown): string {
  const ev = e as { type: string; faceId: number; emotion: string; frameIndex: number; box: unknown };
  return JSON.stringify({ type: ev.type, faceId: ev.faceId, emotion: ev.emotion, frameIndex: ev.frameIndex, box: ev.box });
}
function scoreBits(e: unknown): string {
  const ev = e as { confidence: number; scores: Record<string, number> };
  return JSON.stringify([ev.confidence, ev.scores]);
}

interface Comparison {
  cpu: string;
  ok: boolean;
  notes: string[];
  events: { x64: number; arm: number; sameSequence: boolean; sameScores: boolean; firstDifference?: string };
  frames?: { x64: number; arm: number; decodeDiffers: number; boxesDiffer: number; cropsDiffer: number; scoresDiffer: number; firstDifference?: string };
  doctor: { differing: string[] };
  evaluate?: { x64: number; arm: number; sameConfusion: boolean };
}

function compare(x: Results, a: Results): Comparison {
  const notes: string[] = [];
  const xe = x.run?.events ?? [];
  const ae = a.run?.events ?? [];
  const xk = xe.map(eventKey);
  const ak = ae.map(eventKey);
  let firstEvent: string | undefined;
  for (let i = 0; i < Math.max(xk.length, ak.length); i++) {
    if (xk[i] !== ak[i]) {
      firstEvent = `event ${i}: x86-64 ${xk[i] ?? '(none)'} / ${a.name} ${ak[i] ?? '(none)'}`;
      break;
    }
  }
  const sameScores = xe.length === ae.length && xe.every((e, i) => scoreBits(e) === scoreBits(ae[i]));
  const c: Comparison = {
    cpu: a.name,
    ok: true,
    notes,
    events: { x64: xe.length, arm: ae.length, sameSequence: firstEvent === undefined, sameScores, firstDifference: firstEvent },
    doctor: { differing: [] },
  };
  if (a.run && a.run.rc !== 0) notes.push(`run exited ${a.run.rc}`);
  if (x.frames && a.frames) {
    const n = Math.max(x.frames.lines.length, a.frames.lines.length);
    const f = { x64: x.frames.lines.length, arm: a.frames.lines.length, decodeDiffers: 0, boxesDiffer: 0, cropsDiffer: 0, scoresDiffer: 0, firstDifference: undefined as string | undefined };
    for (let i = 0; i < n; i++) {
      const p = x.frames.lines[i];
      const q = a.frames.lines[i];
      if (!p || !q) {
        f.firstDifference ??= `frame ${i} only on ${p ? 'x86-64' : a.name}`;
        continue;
      }
      const boxes = (l: FrameLine) => JSON.stringify(l.faces.map((g) => g.box));
      if (p.frame !== q.frame || p.positionMs !== q.positionMs) f.decodeDiffers++;
      if (boxes(p) !== boxes(q)) f.boxesDiffer++;
      else if (p.faces.some((g, k) => g.crop !== q.faces[k]!.crop)) f.cropsDiffer++;
      else if (p.faces.some((g, k) => g.p !== q.faces[k]!.p)) f.scoresDiffer++;
      if (f.firstDifference === undefined && JSON.stringify(p) !== JSON.stringify(q)) f.firstDifference = `frame ${i}: x86-64 ${JSON.stringify(p)} / ${a.name} ${JSON.stringify(q)}`;
    }
    c.frames = f;
  }
  const xs = new Map((x.doctor?.checks ?? []).map((k) => [k.id, k.status]));
  for (const k of a.doctor?.checks ?? []) if (xs.get(k.id) !== k.status) c.doctor.differing.push(`${k.id}: x86-64 ${xs.get(k.id)} / ${a.name} ${k.status} (${k.summary})`);
  if (a.doctor && a.doctor.checks.length === 0) c.doctor.differing.push('no doctor result');
  if (x.evaluate && a.evaluate) {
    c.evaluate = {
      x64: x.evaluate.result.accuracy,
      arm: a.evaluate.result.accuracy,
      sameConfusion: JSON.stringify(x.evaluate.result.confusionMatrix) === JSON.stringify(a.evaluate.result.confusionMatrix),
    };
  } else if (x.evaluate || a.evaluate) notes.push('evaluate ran on one side only');
  c.ok = notes.length === 0 && (!a.run || (c.events.sameSequence && c.events.sameScores)) && c.doctor.differing.length === 0 &&
    (!c.frames || (c.frames.x64 === c.frames.arm && !c.frames.firstDifference)) && (!c.evaluate || c.evaluate.sameConfusion);
  return c;
}

const evalDir = withEvaluate ? evaluationSet() : undefined;
if (withEvaluate && !evalDir) console.log(`evaluate skipped: no FER2013 at ${fer} (set FER2013_DIR)`);
const arm64Node = (cpu: string): string[] => ['bash', path.join(repo, 'scripts', 'arm64', 'node.sh'), cpu];
for (const p of [path.join(cache, 'app-x64', 'dist'), path.join(cache, 'app', 'node_modules', '@u4', 'opencv4nodejs', 'build', 'Release', 'opencv4nodejs.node')]) {
  if (!existsSync(p)) {
    console.error(`check: ${p} missing: run scripts/arm64/build-app.sh first`);
    process.exit(2);
  }
}
const x64Target = { name: 'x86-64', app: path.join(cache, 'app-x64'), node: [process.execPath] };
const targets = cpus.map((cpu) => ({ name: cpu, app: path.join(cache, 'app'), node: arm64Node(cpu) }));
let x64: Results;
const arm: Results[] = [];
if (flag('--parallel')) {
  const all = await Promise.all([x64Target, ...targets].map((t) => runTarget(t, evalDir)));
  x64 = all[0]!;
  arm.push(...all.slice(1));
} else {
  x64 = await runTarget(x64Target, evalDir);
  for (const t of targets) arm.push(await runTarget(t, evalDir));
}

const comparisons = arm.map((a) => compare(x64, a));
const strip = (r: Results) => ({
  name: r.name,
  run: r.run && { rc: r.run.rc, wallS: r.run.wallS, cpuS: r.run.userS + r.run.sysS, summary: r.run.summary, events: r.run.events.length },
  frames: r.frames && { rc: r.frames.rc, wallS: r.frames.wallS, cpuS: r.frames.userS + r.frames.sysS, frames: r.frames.lines.length },
  doctor: r.doctor && { rc: r.doctor.rc, wallS: r.doctor.wallS, cpuS: r.doctor.userS + r.doctor.sysS, checks: r.doctor.checks },
  evaluate: r.evaluate && { rc: r.evaluate.rc, wallS: r.evaluate.wallS, cpuS: r.evaluate.userS + r.evaluate.sysS, n: r.evaluate.result.n, accuracy: r.evaluate.result.accuracy, macroF1: r.evaluate.result.macroF1 },
});
writeFileSync(path.join(out, 'report.json'), JSON.stringify({ video, evalDir, results: [x64, ...arm].map(strip), comparisons }, null, 2) + '\n');

console.log('\ncpu          frames events  same events  same scores  frames (decode/boxes/crops/scores differ)  doctor  evaluate acc (same confusion)');
for (const r of [x64, ...arm]) {
  const c = comparisons.find((k) => k.cpu === r.name);
  const fr = c?.frames ? `${c.frames.arm}: ${c.frames.decodeDiffers}/${c.frames.boxesDiffer}/${c.frames.cropsDiffer}/${c.frames.scoresDiffer}` : r.frames ? `${r.frames.lines.length} (reference)` : '-';
  const ev = r.evaluate ? `${(100 * r.evaluate.result.accuracy).toFixed(2)}%${c?.evaluate ? (c.evaluate.sameConfusion ? ' (yes)' : ' (NO)') : ''}` : '-';
  console.log(
    `${r.name.padEnd(12)} ${String(r.run?.summary.frames ?? '?').padStart(6)} ${String(r.run?.events.length ?? '?').padStart(6)}  ` +
      `${(!r.run ? '-' : c ? String(c.events.sameSequence) : 'reference').padEnd(11)}  ${(c && r.run ? String(c.events.sameScores) : '').padEnd(11)}  ${fr.padEnd(40)}  ` +
      `${(c ? (c.doctor.differing.length === 0 ? 'same' : `${c.doctor.differing.length} differ`) : '').padEnd(6)}  ${ev}`,
  );
}
for (const c of comparisons) {
  for (const line of [c.events.firstDifference, c.frames?.firstDifference, ...c.doctor.differing, ...c.notes]) if (line) console.log(`${c.cpu}: ${line}`);
}
console.log(`\nreport: ${path.join(out, 'report.json')}`);
process.exit(comparisons.every((c) => c.ok) ? 0 : 1);
