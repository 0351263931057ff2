/** The switchable classifier: switches between two frames, follows in the shared model ref, rolls back on errors in the window. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SwitchableClassifier, type SwitchableModel } from '../../src/remote/model-switch.js';
import { scores } from '../mqtt/helpers/fixtures.js';

function fake(version: string, size: number, fail = false): SwitchableModel & { closed: number; calls: number } {
  const m = {
    closed: 0,
    calls: 0,
    inputSize: size,
    ref: { name: 'deep_emotion', version },
    path: `/m/${version}.onnx`,
    async classify(crops: readonly Uint8Array[]) {
      m.calls += 1;
      if (fail) throw new Error('bad tensor');
      return crops.map(() => scores('happy'));
    },
    async close() {
      m.closed += 1;
    },
  };
  return m;
}

test('a switch takes effect at the next frame start (inputSize), the shared ref follows, the previous stays for a rollback', async () => {
  let t = 1000;
  const shared = { name: 'deep_emotion', version: 'v1' };
  const v1 = fake('v1', 48);
  const v2 = fake('v2', 64);
  const s = new SwitchableClassifier(v1, shared, { windowMs: 60_000, now: () => t });
  const states: string[] = [];
  s.onState = (st) => states.push(`${st.status} ${st.version} (prev ${st.previous})`);
  assert.equal(s.inputSize, 48);
  const switched = s.switchTo(v2);
  await s.classify([new Uint8Array(1)]);
  assert.equal(v1.calls, 1, 'the frame in flight finishes on the old model');
  assert.equal(shared.version, 'v1');
  assert.equal(s.inputSize, 64, 'the next frame starts on the new one');
  await switched;
  assert.equal(shared.version, 'v2');
  await s.classify([new Uint8Array(1)]);
  assert.equal(v2.calls, 1);
  assert.deepEqual(states, ['verifying v2 (prev v1)'], 'on probation while the rollback window is open');
  assert.equal(s.state.until, 1000 + 60_000);
  assert.equal(s.currentPath, '/m/v2.onnx');
  t += 10;
  assert.equal(s.rollback('requested'), true);
  assert.equal(shared.version, 'v1');
  assert.equal(v2.closed, 1);
  assert.deepEqual(s.state, { version: 'v1', previous: 'v2', status: 'rolled_back', since: 1010, reason: 'requested' });
  assert.equal(s.rollback('again'), false, 'nothing to return to');
});

test('a classification error of the new model inside the window: back to the previous, which classifies that frame (nothing lost); outside the window it throws', async () => {
  let t = 0;
  const shared = { name: 'deep_emotion', version: 'v1' };
  const s = new SwitchableClassifier(fake('v1', 48), shared, { windowMs: 1000, now: () => t });
  void s.switchTo(fake('v3', 48, true));
  void s.inputSize;
  const out = await s.classify([new Uint8Array(1), new Uint8Array(1)]);
  assert.equal(out.length, 2);
  assert.equal(shared.version, 'v1');
  assert.equal(s.state.status, 'rolled_back');
  assert.match(s.state.reason ?? '', /classification failed with v3: bad tensor/);

  const s2 = new SwitchableClassifier(fake('v1', 48), { ...shared }, { windowMs: 1000, now: () => t });
  void s2.switchTo(fake('v4', 48, true));
  void s2.inputSize;
  t = 5000;
  await assert.rejects(s2.classify([new Uint8Array(1)]), /bad tensor/);
});

test('verifying until the rollback window closes, then active (settle); a rollback inside the window ends it', async () => {
  let t = 0;
  const shared = { name: 'deep_emotion', version: 'v1' };
  const s = new SwitchableClassifier(fake('v1', 48), shared, { windowMs: 1000, now: () => t });
  const states: string[] = [];
  s.onState = (st) => states.push(`${st.status} ${st.version} since ${st.since}`);
  assert.equal(s.state.status, 'active');
  assert.equal(s.settle(), false, 'nothing to settle before a switch');
  void s.switchTo(fake('v2', 48));
  t = 100;
  void s.inputSize;
  t = 1099;
  assert.equal(s.settle(), false, 'still inside the window');
  t = 1100;
  assert.equal(s.settle(), true);
  assert.deepEqual(s.state, { version: 'v2', previous: 'v1', status: 'active', since: 1100 });
  assert.equal(s.hasPrevious, true, 'the previous model stays for model/rollback');
  assert.deepEqual(states, ['verifying v2 since 100', 'active v2 since 1100']);

  // a start inside the window (the kiosk restarted on the new model): verifying until the window's end
  const s2 = new SwitchableClassifier(fake('v2', 48), { ...shared }, { windowMs: 1000, now: () => t });
  s2.markVerifying(1500, 'v1');
  assert.deepEqual(s2.state, { version: 'v2', previous: 'v1', status: 'verifying', since: 1100, until: 1500 });
  t = 1500;
  assert.equal(s2.settle(), true);
  assert.equal(s2.state.status, 'active');
});

test('a rollback while the new model is still classifying closes it only after that run (its session is not released under it)', async () => {
  const shared = { name: 'deep_emotion', version: 'v1' };
  const v1 = fake('v1', 48);
  let release!: () => void;
  const slow = { ...fake('v2', 48), closed: 0, classify: (crops: readonly Uint8Array[]) => new Promise<ReturnType<typeof scores>[]>((r) => (release = () => r(crops.map(() => scores('sad'))))), close: async () => void (slow.closed += 1) };
  const s = new SwitchableClassifier(v1, shared, { windowMs: 60_000 });
  void s.switchTo(slow);
  void s.inputSize;
  const running = s.classify([new Uint8Array(1)]);
  assert.equal(s.rollback('requested'), true);
  await new Promise((r) => setImmediate(r));
  assert.equal(slow.closed, 0, 'not closed while its run is in flight');
  release();
  assert.equal((await running).length, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(slow.closed, 1, 'closed once the run finished');
});
