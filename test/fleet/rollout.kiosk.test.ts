/**
 * `fleet rollout` against three real kiosks (`emotion-kiosk run` on video files, one mosquitto): the canary first,
 * then one batch after another, each device healthy on the new version before the next; the retained model state of
 * each goes verifying and, when its rollback window closes, active; the fleet's latest model is published. A second
 * rollout of a model that fails the reference faces stops at the canary: refused with the figures, the other two
 * skipped, all three still serving the first rollout's model.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { Collector } from '../mqtt/helpers/collector.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const MODEL = new URL('../../models/deep_emotion.int8.onnx', import.meta.url).pathname;
const DATA = '/usr/share/doc/opencv-doc/examples/data';
const CLIPS = { k1: `${DATA}/Megamind.avi`, k2: `${DATA}/Megamind_bugy.avi`, k3: `${DATA}/vtest.avi` } as const;
const P = 'emotion-kiosk';
const dir = tempDir('rollout-kiosks');
const oldVersion = (JSON.parse(readFileSync(MODEL.replace(/\.onnx$/, '.json'), 'utf8')) as { version: string }).version;

let broker: Mosquitto;
let op: Collector;
const kiosks: { id: string; proc: ChildProcess; exited: Promise<number | null>; log: () => string }[] = [];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 600_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A copy of `onnx` (+ manifest, reference faces) as `version`, in its own folder, signed with the operator's key. */
async function release(onnx: string, version: string, reference = MODEL.replace(/\.onnx$/, '.reference.json')): Promise<string> {
  const out = path.join(dir, version);
  await promisify(execFile)('mkdir', ['-p', out]);
  const file = path.join(out, path.basename(onnx));
  copyFileSync(onnx, file);
  const manifest = JSON.parse(readFileSync(MODEL.replace(/\.onnx$/, '.json'), 'utf8')) as Record<string, unknown>;
  manifest.version = version;
  manifest.file = path.basename(onnx);
  writeFileSync(file.replace(/\.onnx$/, '.json'), JSON.stringify(manifest, null, 2));
  copyFileSync(reference, path.join(out, (manifest.reference as { file: string }).file));
  const s = await cli(['fleet', 'sign', '--model', file, '--key', path.join(dir, 'ops.key')]);
  assert.equal(s.code, 0, s.stderr);
  return file;
}

const modelState = (id: string) => (op.last(`${P}/${id}/model`)?.json as { model?: { version: string; previous: string | null; status: string } } | undefined)?.model;

before(async () => {
  broker = await Mosquitto.start();
  assert.equal((await cli(['fleet', 'keygen', '--out', path.join(dir, 'ops')])).code, 0);
  op = await Collector.connect(broker.url, [`${P}/+/model`, `${P}/latest_model`, 'homeassistant/update/+/model/config']);
  for (const [id, clip] of Object.entries(CLIPS)) {
    const cfg = path.join(dir, `${id}.json`);
    writeFileSync(
      cfg,
      JSON.stringify({
        version: 2,
        source: clip,
        camera: { loop: true },
        display: { enabled: false },
        detection: { everyNthFrame: 2 },
        // k1 with Home Assistant discovery: its model's update entity
        mqtt: { broker: broker.url, deviceId: id, homeAssistant: { enabled: id === 'k1' } },
        remote: { enabled: true, modelKey: path.join(dir, 'ops.pub'), rollbackWindowS: 10 },
        dataDir: path.join(dir, `data-${id}`),
      }),
    );
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'run', '--config', cfg, '--events', 'none', '--headless'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    kiosks.push({ id, proc, exited: new Promise((r) => proc.once('exit', (c) => r(c))), log: () => log });
  }
});

after(async () => {
  for (const k of kiosks) if (k.proc.exitCode === null) k.proc.kill('SIGTERM');
  const codes = await Promise.all(kiosks.map((k) => k.exited));
  await op?.close();
  await broker?.stop();
  assert.deepEqual(codes, [0, 0, 0], kiosks.map((k) => k.log().slice(-2000)).join('\n---\n'));
});

test('rollout to three real kiosks: canary, then batches, each healthy on the new version; verifying then active; a model failing the reference faces stops at the canary', async (t) => {
  await waitFor(() => kiosks.every((k) => modelState(k.id)?.version === oldVersion), 180_000, 'three kiosks serving the shipped model');
  const entity = await waitFor(() => op.last('homeassistant/update/emotion_kiosk_k1/model/config'), 30_000, 'k1\'s update entity in discovery');
  const ha = entity.json as Record<string, unknown>;
  assert.deepEqual([ha.state_topic, ha.latest_version_topic, ha.unique_id], [`${P}/k1/model`, `${P}/latest_model`, 'emotion_kiosk_k1_model']);
  assert.equal(op.messages.filter((m) => m.topic.startsWith('homeassistant/update/')).length, 1, 'only k1 has discovery on');
  const v2 = await release(MODEL, 'v2-rollout');

  const r = await cli(['fleet', 'rollout', '--model', v2, '--devices', 'all', '--canary', '1', '--batch', '1', '--wait-healthy', '120', '--timeout', '300000', '--broker', broker.url]);
  t.diagnostic(`$ emotion-kiosk fleet rollout --model ${path.basename(v2)} --devices all --canary 1 --batch 1\n${r.stdout}`);
  assert.equal(r.code, 0, r.stdout + r.stderr + kiosks.map((k) => `--- ${k.id}\n${k.log().slice(-3000)}`).join('\n'));
  assert.match(r.stdout, /^canary: k1\n  k1: verifying v2-rollout \(reference faces 48\/48, latency [\d.]+x\)\n  k1: healthy on v2-rollout \(fps [\d.]+\)\n  latest model of the fleet: v2-rollout/m);
  assert.match(r.stdout, /^batch 1: k2\n  k2: verifying v2-rollout .*\n  k2: healthy on v2-rollout/m);
  assert.match(r.stdout, /^batch 2: k3\n  k3: verifying v2-rollout .*\n  k3: healthy on v2-rollout/m);
  assert.match(r.stdout, /^device\s+result\nk1\s+verifying v2-rollout/m);
  assert.equal((op.last(`${P}/latest_model`)?.json as { model: { version: string } }).model.version, 'v2-rollout');
  for (const k of kiosks) assert.equal(modelState(k.id)?.previous, oldVersion);
  // the rollback window (10 s) closes without a failure: active, the previous model still kept
  await waitFor(() => kiosks.every((k) => modelState(k.id)?.status === 'active' && modelState(k.id)?.version === 'v2-rollout'), 60_000, 'verifying -> active on all three');

  const bad = await release(await makeUntrainedModel(tempDir('rollout-untrained')), 'v3-untrained');
  const b = await cli(['fleet', 'rollout', '--model', bad, '--devices', 'k1,k2,k3', '--canary', '1', '--timeout', '300000', '--broker', broker.url]);
  t.diagnostic(`$ emotion-kiosk fleet rollout --model ${path.basename(bad)} --devices k1,k2,k3 --canary 1\n${b.stdout}`);
  assert.equal(b.code, 1, b.stdout + b.stderr);
  assert.match(b.stdout, /k1: refused: fails the reference faces: top-1 agreement \d+\.\d% \(\d+\/48\) with the expected predictions, below 99\.0%/);
  assert.match(b.stdout, /^k2\s+skipped/m);
  assert.match(b.stdout, /^k3\s+skipped/m);
  assert.equal((op.last(`${P}/latest_model`)?.json as { model: { version: string } }).model.version, 'v2-rollout', 'a refused canary does not become the latest');
  const status = await cli(['fleet', 'status', '--broker', broker.url]);
  t.diagnostic(`$ emotion-kiosk fleet status\n${status.stdout}`);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  for (const id of Object.keys(CLIPS)) assert.match(status.stdout, new RegExp(`^${id}\\s+yes\\s+v2-rollout\\s`, 'm'), 'still serving v2 after the refused rollout');
});
