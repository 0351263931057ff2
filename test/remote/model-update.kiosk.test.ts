/**
 * model/update on a real kiosk (CLI, Megamind.avi looping, mosquitto): refused updates leave the old model serving;
 * a signed one is switched to between two frames with no event lost (outbox seq without a gap, events before carry
 * the old version and after the new); model/rollback returns; the retained model state follows; a restart keeps
 * the switched-to model.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { signModel } from '../../src/fleet/signing.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { modelUpdateRequest } from '../../src/fleet/model-update.js';
import { Collector } from '../mqtt/helpers/collector.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const MODEL = new URL('../../models/deep_emotion.int8.onnx', import.meta.url).pathname;
const VIDEO = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
const P = 'emotion-kiosk/mk';

let broker: Mosquitto;
let op: Collector;
const dir = tempDir('model-kiosk');
const configFile = path.join(dir, 'config.json');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const oldVersion = (JSON.parse(readFileSync(MODEL.replace(/\.onnx$/, '.json'), 'utf8')) as { version: string }).version;

/** The shipped model as a new version "v2-test", signed. */
function newModel(): string {
  const onnx = path.join(dir, 'deep_emotion.int8.onnx');
  copyFileSync(MODEL, onnx);
  copyFileSync(MODEL.replace(/\.onnx$/, '.reference.json'), path.join(dir, 'deep_emotion.int8.reference.json'));
  const manifest = JSON.parse(readFileSync(MODEL.replace(/\.onnx$/, '.json'), 'utf8')) as Record<string, unknown>;
  manifest.version = 'v2-test';
  const text = JSON.stringify(manifest, null, 2);
  writeFileSync(path.join(dir, 'deep_emotion.int8.json'), text);
  writeFileSync(path.join(dir, 'deep_emotion.int8.sig.json'), JSON.stringify(signModel(readFileSync(onnx), text, privateKey)));
  return onnx;
}

before(async () => {
  broker = await Mosquitto.start();
  const keyFile = path.join(dir, 'fleet.pub');
  writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(
    configFile,
    JSON.stringify({
      version: 2,
      source: VIDEO,
      camera: { loop: true },
      display: { enabled: false },
      mqtt: { broker: broker.url, deviceId: 'mk', homeAssistant: { enabled: false } },
      remote: { enabled: true, modelKey: keyFile },
      dataDir: path.join(dir, 'data'),
    }),
  );
  op = await Collector.connect(broker.url, [`${P}/#`]);
});
after(async () => {
  await op.close();
  await broker.stop();
});

let kioskLog = () => '';
function startKiosk(): { proc: ChildProcess; exited: Promise<number | null>; log: () => string } {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'run', '--config', configFile, '--events', 'none', '--headless'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  kioskLog = () => `${log}${proc.exitCode !== null || proc.signalCode !== null ? `\n(exited: ${proc.exitCode ?? proc.signalCode})` : ''}`;
  return { proc, exited: new Promise((r) => proc.once('exit', (code) => r(code))), log: () => log };
}

let seq = 0;
async function ask(command: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const transaction = `t${++seq}`;
  await op.client.publishAsync(`${P}/request/${command}`, JSON.stringify({ ...body, transaction }), { qos: 1 });
  const r = await waitFor(() => op.messages.find((m) => m.topic === `${P}/response/${command}` && (m.json as { transaction?: string }).transaction === transaction), 120_000, `the response to ${command}`).catch((err: Error) => {
    throw new Error(`${err.message}; the kiosk's log:\n${kioskLog().slice(-4000)}`);
  });
  return r.json as Record<string, unknown>;
}
const events = () => op.on(`${P}/events`).map((m) => m.json as { seq: number; model: { version: string }; type: string });
const modelState = () => (op.last(`${P}/model`)?.json as { model?: { version: string; previous: string | null; status: string } } | undefined)?.model;

test('refused updates keep the old model; a signed one switches between frames with no event lost; rollback; kept over a restart; a crash on start with it rolls back by itself', async (t) => {
  let k = startKiosk();
  try {
    await waitFor(() => modelState(), 120_000, 'the retained model state');
    assert.deepEqual(modelState(), { ...modelState(), version: oldVersion, previous: null, status: 'active' });
    await waitFor(() => events().length >= 2, 120_000, 'events with the old model');

    const good = modelUpdateRequest(newModel());
    const flipped = Buffer.from(good.model, 'base64');
    flipped[3000] = flipped[3000]! ^ 1;
    const forged = JSON.parse(good.signature) as { signature: string };
    forged.signature = Buffer.from(forged.signature, 'base64').reverse().toString('base64');
    const truncated = Buffer.from(good.model, 'base64').subarray(0, good.size - 1000);
    // a signed network that disagrees with the expected predictions (the untrained one with this model's reference faces)
    const untrained = readFileSync(await makeUntrainedModel(tempDir('mk-untrained')));
    const untrainedManifest = good.manifest.replace('v2-test', 'v2-untrained');
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ ...good, signature: '{}' }, /unsigned/],
      [{ ...good, signature: JSON.stringify(forged) }, /bad signature/],
      [{ ...good, model: truncated.toString('base64'), size: truncated.length, sha256: sha256Hex(truncated) }, /truncated/],
      [{ ...good, model: flipped.toString('base64'), sha256: sha256Hex(flipped) }, /wrong sha256/],
      [{ ...good, manifest: good.manifest.replace('v2-test', 'v2-evil') }, /manifest does not match/],
      [
        { ...good, manifest: untrainedManifest, model: untrained.toString('base64'), size: untrained.length, sha256: sha256Hex(untrained), signature: JSON.stringify(signModel(untrained, untrainedManifest, privateKey)) },
        /fails the reference faces: top-1 agreement \d+\.\d% \(\d+\/48\) with the expected predictions, below 99\.0%/,
      ],
    ];
    for (const [params, want] of refusals) {
      const r = await ask('model/update', params);
      assert.equal(r.status, 'error');
      assert.match(String(r.error), want);
      t.diagnostic(String(r.error).slice(0, 200));
    }
    assert.equal(modelState()!.version, oldVersion, 'the retained state still on the old model');
    const h = await ask('health_check');
    assert.equal((h.data as { model: { version: string } }).model.version, oldVersion, 'the old model still serving');

    const before = events().length;
    const r = await ask('model/update', { ...good });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal((r.data as { status: string }).status, 'verifying', 'switched, on probation inside the rollback window');
    assert.deepEqual((r.data as { reference: { faces: number; agree: number } }).reference, { ...(r.data as { reference: object }).reference, faces: 48, agree: 48 });
    await waitFor(() => modelState()?.version === 'v2-test', 10_000, 'the retained state on v2');
    assert.equal(modelState()!.previous, oldVersion);
    assert.equal(modelState()!.status, 'verifying');
    await waitFor(() => events().slice(before).some((e) => e.model.version === 'v2-test'), 120_000, 'an event from the new model');
    const all = events();
    // at least once: duplicates possible, gaps not
    const seqs = [...new Set(all.map((e) => e.seq))].sort((a, b) => a - b);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'no gap in the outbox sequence');
    const firstNew = all.findIndex((e) => e.model.version === 'v2-test');
    assert.ok(all.slice(0, firstNew).every((e) => e.model.version === oldVersion), 'events before the switch carry the old version');
    assert.ok(all.slice(firstNew).every((e) => e.model.version === 'v2-test'), 'and after it the new one');
    t.diagnostic(`events seq ${seqs[0]}..${seqs[seqs.length - 1]} (${all.length} received), ${firstNew} with ${oldVersion}, ${all.length - firstNew} with v2-test, no gap`);

    const rb = await ask('model/rollback');
    assert.equal(rb.status, 'ok', JSON.stringify(rb));
    await waitFor(() => modelState()?.status === 'rolled_back', 10_000, 'rolled_back state');
    assert.equal(modelState()!.version, oldVersion);
    assert.equal(((await ask('health_check')).data as { model: { version: string } }).model.version, oldVersion);
    assert.equal((await ask('model/rollback')).status, 'error', 'nothing more to roll back to');

    assert.equal((await ask('model/update', { ...good })).status, 'ok');
    k.proc.kill('SIGTERM');
    assert.equal(await k.exited, 0, k.log());
  } finally {
    if (k.proc.exitCode === null) k.proc.kill('SIGKILL');
  }
  op.messages.length = 0;
  k = startKiosk();
  try {
    await waitFor(() => modelState(), 120_000, 'the restarted kiosk\'s model state');
    assert.equal(modelState()!.version, 'v2-test', 'the switched-to model is kept over a restart');
    assert.equal(modelState()!.status, 'verifying', 'still inside its rollback window');
    assert.equal(modelState()!.previous, oldVersion);
    // it dies without a clean stop (as a crash would) within the rollback window ...
    k.proc.kill('SIGKILL');
    await k.exited;
  } finally {
    if (k.proc.exitCode === null) k.proc.kill('SIGKILL');
  }
  // ... so the next start goes back to the previous model by itself and says why
  op.messages.length = 0;
  k = startKiosk();
  try {
    await waitFor(() => modelState(), 120_000, 'the model state after the crash');
    const st = op.last(`${P}/model`)!.json as { model: { version: string; status: string; reason?: string } };
    assert.equal(st.model.version, oldVersion);
    assert.equal(st.model.status, 'rolled_back');
    assert.match(st.model.reason ?? '', /did not stop cleanly/);
    t.diagnostic(`after the crash: ${JSON.stringify(st.model)}`);
    assert.equal(((await ask('health_check')).data as { model: { version: string } }).model.version, oldVersion);
    k.proc.kill('SIGTERM');
    assert.equal(await k.exited, 0, k.log());
  } finally {
    if (k.proc.exitCode === null) k.proc.kill('SIGKILL');
  }
});
