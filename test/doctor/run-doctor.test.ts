/**
 * The whole doctor, in-process and as `emotion-kiosk doctor`: a real video file as the camera, the untrained
 * model, a real mosquitto, a temp data dir. Then broken set-ups: every FAIL comes with a fix and exit code 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { megamindVideo, repoRoot } from '../helpers/fixtures.js';
import { freePort, Mosquitto } from '../mqtt/helpers/mosquitto.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-doctor-'));
let broker: Mosquitto;
let model: string;
let good: string;

function writeConfig(name: string, yaml: string): string {
  const f = path.join(tmp, name);
  writeFileSync(f, yaml);
  return f;
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'doctor', ...args], { encoding: 'utf8', cwd: repoRoot, env: { ...process.env, EMOTION_KIOSK_CONFIG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  broker = await Mosquitto.start();
  model = await makeUntrainedModel(path.join(tmp, 'models'));
  good = writeConfig('good.yaml', `source: ${megamindVideo}\nmodel:\n  path: ${model}\nmqtt:\n  broker: ${broker.url}\ndataDir: ${path.join(tmp, 'data')}\n`);
});
after(async () => {
  await broker.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('a working set-up: every check ok, the untrained model flagged, a frame read through OpenCV', async () => {
  const report = await runDoctor({ configFile: good, env: {}, serviceActive: async () => false, identityFacts: { hostname: 'kiosk-lobby', machineId: undefined, serial: undefined } });
  const by = Object.fromEntries(report.checks.map((c) => [c.id, c]));
  for (const id of ['platform', 'node', 'config', 'opencv', 'cascade', 'camera', 'camera-read', 'broker', 'identity', 'disk']) assert.equal(by[id]?.status, 'ok', `${id}: ${JSON.stringify(by[id])}`);
  assert.equal(by.model?.status, 'warn');
  assert.match(by['camera-read']!.summary, /read a 720x528 frame/);
  assert.equal(report.exitCode, 0);
});

test('emotion-kiosk doctor --json prints machine-readable results', () => {
  const r = cli(['--config', good, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as { ok: boolean; checks: { id: string; status: string }[] };
  assert.equal(json.ok, true);
  assert.deepEqual(json.checks.map((c) => c.id), ['platform', 'node', 'clock', 'config', 'opencv', 'cascade', 'model', 'camera', 'camera-read', 'broker', 'identity', 'disk', 'kiosk']);
});

test('a broken set-up: exit 1 and a fix under every FAIL', async () => {
  const port = await freePort();
  const bad = writeConfig('bad.yaml', `source: /dev/video42\nmodel:\n  path: ${path.join(tmp, 'nothing.onnx')}\ndetection:\n  cascade: ${path.join(tmp, 'no-cascade.xml')}\nmqtt:\n  broker: mqtt://127.0.0.1:${port}\ndataDir: ${path.join(tmp, 'data')}\n`);
  const r = cli(['--config', bad, '--broker-timeout', '2000']);
  assert.equal(r.code, 1);
  for (const id of ['model', 'cascade', 'camera', 'broker']) assert.match(r.stdout, new RegExp(`^\\[FAIL\\] ${id} .*\\n(?: +.*\\n)*? +fix: `, 'm'), id);
  assert.match(r.stdout, /\/dev\/video42 does not exist/);
  assert.match(r.stdout, /problem\(s\) will stop the kiosk/);
});

test('an invalid config fails clearly and the checks that need it are skipped', () => {
  const r = cli(['--config', writeConfig('invalid.yaml', 'mqtt:\n  broker: tcp://nope\ncamera:\n  fps: -3\n')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /\[FAIL\] config .*mqtt\.broker: expected mqtt:\/\/host:port/);
  assert.match(r.stdout, /camera\.fps/);
  assert.match(r.stdout, /\[skip\] model +config invalid/);
  assert.match(r.stdout, /\[ ok \] platform/, 'the checks that need no config still run');
});

test('--preflight (the service start-up check): no camera read, no broker probe, an absent camera only warns', async () => {
  const port = await freePort();
  const cfg = writeConfig('preflight.yaml', `source: /dev/video42\nmodel:\n  path: ${model}\nmqtt:\n  broker: mqtt://127.0.0.1:${port}\ndataDir: ${path.join(tmp, 'data')}\n`);
  const report = await runDoctor({ configFile: cfg, env: {}, preflight: true });
  const by = Object.fromEntries(report.checks.map((c) => [c.id, c]));
  assert.equal(by.camera?.status, 'warn');
  assert.equal(by['camera-read'], undefined);
  assert.equal(by.broker?.status, 'skip');
  assert.equal(report.exitCode, 0);
});
