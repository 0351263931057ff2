/** `fleet rollout` to three kiosk buses on a real mosquitto: canary first, then batches; stops at the first refusal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { brokerLimitProblem, planRollout } from '../../src/fleet/rollout.js';
import { latestModelSchema } from '../../src/contract/remote.js';
import type { ModelUpdateParams } from '../../src/contract/remote.js';
import { checkCandidate, receiveModelUpdate } from '../../src/remote/model-receive.js';
import { RemoteService, mqttTransport, remoteConnectionSettings } from '../../src/remote/service.js';
import { RemoteStore } from '../../src/remote/store.js';
import { silentLogger } from '../../src/util/logger.js';
import { Collector } from '../mqtt/helpers/collector.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';
import { FakeHost, mosquittoWith, remoteConfig } from '../remote/helpers.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const MODEL = new URL('../../models/deep_emotion.int8.onnx', import.meta.url).pathname;

test('planRollout: canary alone, then batches; 0 = the rest at once', () => {
  assert.deepEqual(planRollout(['a', 'b', 'c', 'd'], 1, 2), [['a'], ['b', 'c'], ['d']]);
  assert.deepEqual(planRollout(['a', 'b', 'c'], 1, 0), [['a'], ['b', 'c']]);
  assert.deepEqual(planRollout(['a', 'a', 'b'], 0, 1), [['a'], ['b']]);
  assert.throws(() => planRollout(['a'], -1, 0), /--canary/);
});

test('brokerLimitProblem: a packet over the broker\'s Maximum Packet Size is named with both figures and what to set', () => {
  assert.equal(brokerLimitProblem(1_600_000, undefined), null, 'no limit announced');
  assert.equal(brokerLimitProblem(1_600_000, 1_600_000), null);
  assert.match(brokerLimitProblem(1_600_001, 1_600_000)!, /at most 1600000 bytes \(mosquitto: max_packet_size\) and this model update is 1600001 bytes: set max_packet_size to 1600001 or more/);
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 300_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('rollout to three kiosks with a canary; a device that refuses stops it, the rest are skipped, exit 1', async () => {
  const broker = await Mosquitto.start();
  const dir = tempDir('rollout');
  const onnx = path.join(dir, 'deep_emotion.int8.onnx');
  copyFileSync(MODEL, onnx);
  copyFileSync(MODEL.replace(/\.onnx$/, '.json'), path.join(dir, 'deep_emotion.int8.json'));
  copyFileSync(MODEL.replace(/\.onnx$/, '.reference.json'), path.join(dir, 'deep_emotion.int8.reference.json'));
  assert.equal((await cli(['fleet', 'keygen', '--out', path.join(dir, 'ops')])).code, 0);
  assert.equal((await cli(['fleet', 'sign', '--model', onnx, '--key', path.join(dir, 'ops.key')])).code, 0);
  const strangerKey = path.join(dir, 'stranger.pub');
  writeFileSync(strangerKey, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));

  const services: RemoteService[] = [];
  const updates = new Map<string, number>();
  const startDevice = (id: string, keyFile: string) => {
    const data = tempDir(`rollout-${id}`);
    const cfg = remoteConfig({ mqtt: { broker: broker.url, deviceId: id }, remote: { enabled: true, modelKey: keyFile } }, data);
    const host = new FakeHost(cfg);
    let serving = 'test-1';
    const health = host.health.bind(host);
    host.health = () => ({ ...health(), model: { name: 'deep_emotion', version: serving } });
    host.modelUpdate = async (p) => {
      updates.set(id, (updates.get(id) ?? 0) + 1);
      serving = (JSON.parse((p as ModelUpdateParams).manifest) as { version: string }).version;
      return receiveModelUpdate(p as ModelUpdateParams, { modelKeyFile: keyFile, dataDir: data, maxBytes: 16 << 20, check: (f, ref) => checkCandidate(f, MODEL, ref) });
    };
    const svc = new RemoteService({ deviceId: id, prefix: 'emotion-kiosk', host, store: new RemoteStore(data), transport: mqttTransport(remoteConnectionSettings(cfg, id), silentLogger), logger: silentLogger });
    svc.start();
    services.push(svc);
  };
  try {
    startDevice('k1', path.join(dir, 'ops.pub'));
    startDevice('k2', path.join(dir, 'ops.pub'));
    startDevice('k3', path.join(dir, 'ops.pub'));
    startDevice('k4', strangerKey);
    const c = await Collector.connect(broker.url, ['emotion-kiosk/+/detection']);
    await waitFor(() => ['k1', 'k2', 'k3', 'k4'].every((d) => c.last(`emotion-kiosk/${d}/detection`)), 10_000, 'four kiosk buses');
    await c.close();

    const ok = await cli(['fleet', 'rollout', '--model', onnx, '--devices', 'k1,k2,k3', '--canary', '1', '--batch', '1', '--broker', broker.url, '--wait-healthy', '30']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^canary: k1\n  k1: verified \S+ \(reference faces 48\/48, latency [\d.]+x\)\n  k1: healthy on /m);
    assert.match(ok.stdout, /^  latest model of the fleet: /m);
    assert.match(ok.stdout, /^batch 1: k2\n/m);
    assert.match(ok.stdout, /^batch 2: k3\n/m);
    assert.deepEqual([...updates.entries()].sort(), [['k1', 1], ['k2', 1], ['k3', 1]]);
    const latest = await Collector.connect(broker.url, ['emotion-kiosk/latest_model']);
    const version = (JSON.parse(readFileSync(onnx.replace(/\.onnx$/, '.json'), 'utf8')) as { version: string }).version;
    const l = await waitFor(() => latest.last('emotion-kiosk/latest_model'), 5_000, 'the retained latest model');
    await latest.close();
    assert.equal(latestModelSchema.parse(l.json).model.version, version);

    const bad = await cli(['fleet', 'rollout', '--model', onnx, '--devices', 'k1,k4,k2,k3', '--canary', '1', '--batch', '1', '--broker', broker.url]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /k4: refused: signed by key [0-9a-f]{16}, which this device does not trust/);
    assert.match(bad.stdout, /^k2\s+skipped/m);
    assert.match(bad.stdout, /^k3\s+skipped/m);
    assert.equal(updates.get('k2'), 1, 'nothing sent after the failure');
  } finally {
    for (const s of services) await s.stop();
    await broker.stop();
  }
});

test('the broker\'s size limit: max_packet_size too small -> not sent, with the figures; message_size_limit too small -> the broker refused it; exit 1 either way', async () => {
  const dir = tempDir('rollout-limit');
  const onnx = path.join(dir, 'deep_emotion.int8.onnx');
  copyFileSync(MODEL, onnx);
  copyFileSync(MODEL.replace(/\.onnx$/, '.json'), path.join(dir, 'deep_emotion.int8.json'));
  copyFileSync(MODEL.replace(/\.onnx$/, '.reference.json'), path.join(dir, 'deep_emotion.int8.reference.json'));
  assert.equal((await cli(['fleet', 'keygen', '--out', path.join(dir, 'ops')])).code, 0);
  assert.equal((await cli(['fleet', 'sign', '--model', onnx, '--key', path.join(dir, 'ops.key')])).code, 0);
  for (const [line, want] of [
    ['max_packet_size 1000000', /^not sent: the broker accepts packets of at most 1000000 bytes \(mosquitto: max_packet_size\) and this model update is \d+ bytes/m],
    ['message_size_limit 1000000', /k1: not delivered: the broker refused the request \(.*message_size_limit/],
  ] as const) {
    const b = await mosquittoWith([line]);
    try {
      const r = await cli(['fleet', 'rollout', '--model', onnx, '--devices', 'k1', '--broker', b.url, '--timeout', '3000']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, want, line);
    } finally {
      await b.stop();
    }
  }
});
