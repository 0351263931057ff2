import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import type { FaceEvent } from '../../src/events/types.js';
import { EMOTIONS } from '../../src/model/labels.js';
import { manifestPathFor } from '../../src/model/manifest.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { cliPath, megamindVideo } from '../helpers/fixtures.js';

const execFileP = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-run-'));
let model: string;

before(async () => {
  model = await makeUntrainedModel(path.join(tmp, 'model'));
});

/** Runs the CLI; resolves with its exit code and output whatever the code. */
async function kiosk(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const base = ['run', '--headless', '--broker', 'none'];

test('run on Megamind.avi: faces on most frames, JSON events on stdout, a summary file', async () => {
  const summaryFile = path.join(tmp, 'summary.json');
  const r = await kiosk([...base, '--source', megamindVideo, '--model', model, '--max-frames', '150', '--events', 'json', '--summary-json', summaryFile]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown> & { model: { untrained: boolean; version: string } };
  for (const key of ['frames', 'facesDetected', 'events', 'fps', 'detectMsP50', 'classifyMsP50', 'source', 'model']) assert.ok(key in s, `summary has ${key}`);
  assert.equal(s.frames, 150);
  assert.ok((s.framesWithFaces as number) / 150 > 0.6, `faces on ${s.framesWithFaces}/150 frames`);
  assert.ok((s.facesDetected as number) >= (s.framesWithFaces as number));
  assert.equal(s.model.untrained, true);
  assert.match(s.source as string, /Megamind\.avi/);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as FaceEvent);
  assert.equal(events.length, s.events);
  assert.ok(events.length >= 2, 'at least one face appears and leaves');
  const appeared = events.filter((e) => e.type === 'appeared');
  const left = events.filter((e) => e.type === 'left');
  assert.ok(appeared.length >= 1);
  assert.deepEqual(new Set(left.map((e) => e.faceId)), new Set(appeared.map((e) => e.faceId)), 'every face that appeared has left by the end');
  for (const e of events) {
    assert.deepEqual(Object.keys(e.scores).sort(), [...EMOTIONS].sort());
    assert.ok(EMOTIONS.includes(e.emotion));
    assert.ok(e.confidence > 0 && e.confidence <= 1);
    assert.ok(e.box.width > 0 && e.timestamp >= e.frameTimestamp);
    assert.equal(e.model.version, s.model.version);
    assert.match(e.eventId, /^[0-9a-f-]{36}$/);
  }
  assert.match(r.stderr, /UNTRAINED/, 'an untrained model is never presented as the real one');
});

test('a long run survives garbage collection (opencv4nodejs + Node 20 GC abort regression)', async () => {
  const r = await kiosk([...base, '--source', megamindVideo, '--loop', '--model', model, '--max-frames', '800', '--events', 'none']);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  assert.match(r.stderr, /frames +800 /);
});

test('bad input stops the run with a clear message and exit code 2', async (t) => {
  const corruptVideo = path.join(tmp, 'corrupt.avi');
  writeFileSync(corruptVideo, Buffer.alloc(100_000, 7));
  const corruptModel = path.join(tmp, 'corrupt.onnx');
  writeFileSync(corruptModel, 'garbage'.repeat(1000));
  const manifest = JSON.parse(readFileSync(manifestPathFor(model), 'utf8')) as { file: string; input: { shape: unknown[] } };
  writeFileSync(manifestPathFor(corruptModel), JSON.stringify({ ...manifest, file: 'corrupt.onnx' }));
  const mismatched = path.join(tmp, 'mismatch.onnx');
  copyFileSync(model, mismatched);
  writeFileSync(manifestPathFor(mismatched), JSON.stringify({ ...manifest, file: 'mismatch.onnx', input: { ...manifest.input, shape: [-1, 1, 64, 64] } }));
  const badConfig = path.join(tmp, 'bad.yaml');
  writeFileSync(badConfig, 'detection:\n  minNeighbors: -1\ntracking:\n  smoothingAlpha: 3\n');

  const cases: Array<[string, string[], RegExp]> = [
    ['missing video', ['--source', path.join(tmp, 'nope.avi'), '--model', model], /nope\.avi/],
    ['corrupt video', ['--source', corruptVideo, '--model', model], /corrupt\.avi/],
    ['unknown camera index', ['--source', '57', '--model', model], /57|video57/],
    ['missing model', ['--source', megamindVideo, '--model', path.join(tmp, 'none.onnx')], /model file .*none\.onnx not found/],
    ['corrupt model', ['--source', megamindVideo, '--model', corruptModel], /corrupt\.onnx could not be loaded by onnxruntime/],
    ['manifest disagrees with the model', ['--source', megamindVideo, '--model', mismatched], /disagree on the input shape/],
    ['invalid config values', ['--source', megamindVideo, '--model', model, '--config', badConfig], /detection\.minNeighbors: .*bad\.yaml[\s\S]*tracking\.smoothingAlpha: .*bad\.yaml/],
  ];
  for (const [name, args, message] of cases) {
    await t.test(name, async () => {
      const r = await kiosk([...base, ...args]);
      assert.equal(r.code, 2, `${name}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace for bad input');
    });
  }
});
