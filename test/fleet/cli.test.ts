/** `emotion-kiosk fleet` as an operator runs it: keygen, sign, verify (refused: exit 1), and command against a kiosk's bus on a real mosquitto. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { RemoteService, mqttTransport, remoteConnectionSettings } from '../../src/remote/service.js';
import { RemoteStore } from '../../src/remote/store.js';
import { silentLogger } from '../../src/util/logger.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';
import { Collector } from '../mqtt/helpers/collector.js';
import { FakeHost, remoteConfig } from '../remote/helpers.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const MODEL = new URL('../../models/deep_emotion.int8.onnx', import.meta.url).pathname;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('fleet keygen, sign, verify; a truncated model is refused with exit 1', async () => {
  const dir = tempDir('fleet-cli');
  const onnx = path.join(dir, 'deep_emotion.int8.onnx');
  copyFileSync(MODEL, onnx);
  copyFileSync(MODEL.replace(/\.onnx$/, '.json'), path.join(dir, 'deep_emotion.int8.json'));
  const k = await cli(['fleet', 'keygen', '--out', path.join(dir, 'ops')]);
  assert.equal(k.code, 0, k.stderr);
  assert.match(k.stdout, /ops\.pub .*remote\.modelKey/);
  const s = await cli(['fleet', 'sign', '--model', onnx, '--key', path.join(dir, 'ops.key')]);
  assert.equal(s.code, 0, s.stderr);
  const v = await cli(['fleet', 'verify', '--model', onnx, '--public-key', path.join(dir, 'ops.pub')]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^ok: /);
  writeFileSync(onnx, readFileSync(onnx).subarray(0, 1000));
  const bad = await cli(['fleet', 'verify', '--model', onnx, '--public-key', path.join(dir, 'ops.pub')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^refused: model is 1000 bytes, the signature says \d+ \(truncated\)/);
});

test('fleet command <device> health_check and an unknown command (exit 1), against a kiosk bus on mosquitto', async () => {
  const broker = await Mosquitto.start();
  const dir = tempDir('fleet-cmd');
  const cfg = remoteConfig({ mqtt: { broker: broker.url, deviceId: 'lobby1' } }, dir);
  const svc = new RemoteService({ deviceId: 'lobby1', prefix: 'emotion-kiosk', host: new FakeHost(cfg), store: new RemoteStore(dir), transport: mqttTransport(remoteConnectionSettings(cfg, 'lobby1'), silentLogger), logger: silentLogger });
  svc.start();
  try {
    const c = await Collector.connect(broker.url, ['emotion-kiosk/lobby1/detection']);
    await waitFor(() => c.last('emotion-kiosk/lobby1/detection'), 10_000, 'the kiosk bus up');
    await c.close();
    const ok = await cli(['fleet', 'command', 'lobby1', 'health_check', '--broker', broker.url]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^lobby1: \{.*"status":"ok".*"healthy":true/);
    const st = await cli(['fleet', 'status', '--broker', broker.url]);
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.match(st.stdout, /^device\s+online\s+model\s+fps\s+outbox\s+detection\s+health\n/);
    assert.match(st.stdout, /^lobby1 .* on\s+healthy$/m);
    const bad = await cli(['fleet', 'command', 'all', 'reboot_now', '--broker', broker.url]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /^lobby1: \{.*"status":"error","error":"unknown command \\"reboot_now\\"/);
  } finally {
    await svc.stop();
    await broker.stop();
  }
});
