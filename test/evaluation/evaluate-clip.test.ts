/**
 * End to end: scripts/make-eval-clip.ts on a few real FER2013 PublicTest faces, then `evaluate --clip` through the
 * real pipeline (OpenCV file source, Haar detector, the shipped int8 model, the tracker). Checks the report's
 * structure and the ground-truth bookkeeping, never accuracy figures or timings.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import { clipTruthPath, evaluateClip, formatClipEvaluation, type ClipEvaluationResult } from '../../src/cli/evaluate.js';
import { clipReport, replayTracker, type RecordedFrame } from '../../src/evaluation/clip-metrics.js';
import { parseClipTruth, type ClipTruth } from '../../src/evaluation/clip-plan.js';
import type { Emotion } from '../../src/model/labels.js';
import { fer2013Dir, repoRoot } from '../helpers/fixtures.js';

const run = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-eval-clip-'));
const make = (out: string) =>
  run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'make-eval-clip.ts'), '--data', path.join(fer2013Dir, 'test'), '--prefix', 'PublicTest_',
    '--out', out, '--pairs', '3', '--statics', '1', '--seed', '5'], { cwd: repoRoot });

let truth: ClipTruth;
let result: ClipEvaluationResult;
const framesFile = path.join(tmp, 'frames.json');

before(async () => {
  const { stdout } = await make(path.join(tmp, 'a'));
  assert.match(stdout, /read back/);
  truth = parseClipTruth(JSON.parse(readFileSync(path.join(tmp, 'a', 'clip.json'), 'utf8')));
  result = await evaluateClip({ clip: path.join(tmp, 'a', 'clip.avi'), saveFrames: framesFile });
});

test('make-eval-clip: the same seed gives the same ground truth and video; images are FER2013 PublicTest files by path', async () => {
  await make(path.join(tmp, 'b'));
  assert.deepEqual(JSON.parse(readFileSync(path.join(tmp, 'b', 'clip.json'), 'utf8')), truth);
  assert.ok(readFileSync(path.join(tmp, 'b', 'clip.avi')).equals(readFileSync(path.join(tmp, 'a', 'clip.avi'))), 'and the same frames, byte for byte');
  assert.equal(truth.items.length, 4);
  for (const s of truth.items.flatMap((i) => i.segments)) assert.match(s.image, new RegExp(`/test/${s.label}/PublicTest_[^/]+\\.jpg$`));
  assert.equal(clipTruthPath(path.join(tmp, 'a', 'clip.avi')), path.join(tmp, 'a', 'clip.json'));
});

test('evaluate --clip: every frame read and scanned; face-frames, images, pairs and statics as in clip.json', () => {
  assert.equal(result.frames, truth.frames);
  assert.equal(result.framesScanned, truth.frames);
  const faceFrames = truth.items.flatMap((i) => i.segments).reduce((n, s) => n + s.endFrame - s.startFrame, 0);
  assert.equal(result.detection.truthFaces, faceFrames);
  assert.ok(result.detection.detected <= faceFrames);
  assert.equal(result.accuracy.n, result.detection.detected);
  assert.equal(result.accuracy.nativeImages.n, 7);
  assert.equal(result.pairs.n, 3);
  assert.equal(result.statics.n, 1);
  assert.deepEqual(result.perPair.map((p) => p.labels), truth.items.filter((i) => i.kind === 'pair').map((i) => i.segments.map((s) => s.label)));
  for (const k of ['rate'] as const) assert.ok(result.detection[k] >= 0 && result.detection[k] <= 1);
  for (const k of ['followRate', 'followRateCorrect'] as const) assert.ok(result.pairs[k] >= 0 && result.pairs[k] <= 1);
  assert.ok(result.pairs.followable <= result.pairs.n && result.pairs.followed <= result.pairs.followable);
  assert.equal(result.events.appeared, result.tracks.total);
  assert.deepEqual(result.warnings, []);
  assert.equal(result.tracking.maxMissingMs < truth.gapMs, true);
  const text = formatClipEvaluation(result);
  for (const word of ['detection', 'accuracy', 'pairs', 'statics', 'events', 'tracking']) assert.match(text, new RegExp(`^${word}`, 'm'));
  // every pair the classifier gets right but the events did not follow is in the text with its reason
  const missed = Object.values(result.pairs.failuresCorrect).reduce((a, n) => a + n, 0);
  assert.equal(missed, result.pairs.correct - result.pairs.followedCorrect);
  const reasons = /not followed \(of the pairs the classifier gets right\), by reason: (.*)$/m.exec(text);
  assert.ok(reasons, text);
  const listed = reasons[1] === 'none' ? 0 : reasons[1]!.split(', ').reduce((a, r) => a + Number(r.split(' ')[1]), 0);
  assert.equal(listed, missed);
});

test('evaluate --clip --save-frames: replaying the tracker on what was seen gives the live run\'s events', () => {
  const saved = JSON.parse(readFileSync(framesFile, 'utf8')) as { frames: RecordedFrame[]; native: Record<string, Emotion>; tracking: ClipEvaluationResult['tracking'] };
  assert.equal(saved.frames.length, truth.frames);
  assert.ok(saved.frames.every((f, i) => f.index === i && (i === 0 || f.clockMs > saved.frames[i - 1]!.clockMs)), 'frames in order on the clip\'s clock');
  const replay = clipReport({ truth, frames: saved.frames, events: replayTracker(saved.frames, saved.tracking), native: new Map(Object.entries(saved.native)), framesRead: result.frames });
  assert.deepEqual(replay.events, result.events);
  assert.deepEqual(replay.perPair, result.perPair);
  assert.deepEqual(replay.statics, result.statics);
});
