/**
 * The one telemetry producer: every transport gets the same state, counts, stats and events, computed once; a
 * transport that throws does not stop the others; a failed start stops the transports already started; stop sends
 * the partial counts window then stops the transports in reverse; stats carry the camera and the delivery status.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FaceEvent } from '../../src/events/types.js';
import { published } from '../../src/contract/contract.js';
import type { EventPayload } from '../../src/contract/index.js';
import { TelemetryProducer, type TelemetryHub, type TelemetryMessage, type TelemetryTransport } from '../../src/telemetry/producer.js';
import { createLogger } from '../../src/util/logger.js';
import { faceEvent, frame, MODEL } from '../mqtt/helpers/fixtures.js';

const health = async () => ({ cpuLoadPct: 10, temperatureC: null, memUsedPct: 20, processRssMb: 100, systemUptimeS: 1000 });

class FakeTransport implements TelemetryTransport {
  messages: TelemetryMessage[] = [];
  events: EventPayload[] = [];
  hub: TelemetryHub | undefined;
  constructor(readonly name: string, private readonly log: string[], private readonly opts: { failStart?: boolean; throwOnPublish?: boolean; delivery?: boolean } = {}) {}
  async start(hub: TelemetryHub) {
    this.log.push(`start ${this.name}`);
    if (this.opts.failStart) throw new Error(`${this.name}: port 1883 in use`);
    this.hub = hub;
  }
  event(_e: FaceEvent, payload: (seq: number) => EventPayload) {
    if (this.opts.throwOnPublish) throw new Error('disk on fire');
    this.events.push(payload(this.events.length + 100));
  }
  publish(m: TelemetryMessage) {
    if (this.opts.throwOnPublish) throw new Error('view gone');
    this.messages.push(m);
  }
  get delivery() {
    return this.opts.delivery ? () => ({ brokerConnected: true, outbox: { pending: 3, dropped: 1, durable: true, unstored: 2 } }) : undefined;
  }
  async stop() {
    this.log.push(`stop ${this.name}`);
  }
}

function producer(transports: TelemetryTransport[], now: { t: number }, log: string[] = []) {
  return new TelemetryProducer(
    {
      deviceId: 'k1',
      model: MODEL,
      countsWindowS: 60,
      statsIntervalS: 3600,
      logger: createLogger('debug', 't', (l) => log.push(l)),
      camera: () => ({ state: 'reconnecting', reconnects: 2, droppedFrames: 7 }),
      now: () => now.t,
      health,
    },
    transports,
  );
}

const settle = () => new Promise((r) => setImmediate(r));

test('both transports get the same messages, each built once; payloads pass the published contract', async () => {
  const order: string[] = [];
  const a = new FakeTransport('dashboard', order);
  const b = new FakeTransport('mqtt', order, { delivery: true });
  const now = { t: 1_780_000_000_000 };
  const p = producer([a, b], now);
  await p.start();
  await settle();
  p.onFrame(frame(0, [{ id: 1, emotion: 'happy' }], now.t));
  now.t += 300;
  p.onFrame(frame(1, [{ id: 1, emotion: 'happy' }, { id: 2, emotion: 'sad' }], now.t));
  await p.onEvent(faceEvent(0, 'appeared', 'happy'));
  b.hub!.refreshStats();
  await settle();
  await p.stop();
  assert.deepEqual(order, ['start dashboard', 'start mqtt', 'stop mqtt', 'stop dashboard']);
  assert.deepEqual(a.messages.map((m) => m.kind), b.messages.map((m) => m.kind));
  assert.deepEqual(a.messages, b.messages, 'the same payload objects\' content for every transport');
  // the start state, the start stats, frame 1's state (frame 0's change came within 250 ms of the start state and was
  // superseded by frame 1's), the refreshed stats, the counts at stop
  assert.deepEqual(a.messages.map((m) => m.kind), ['state', 'stats', 'state', 'stats', 'counts']);
  for (const m of a.messages) assert.ok(published[m.kind].safeParse(m.payload).success, JSON.stringify(published[m.kind].safeParse(m.payload).error?.issues));
  const stats = a.messages.find((m) => m.kind === 'stats')!.payload as { camera: unknown; outbox: unknown; broker: unknown };
  assert.deepEqual(stats.camera, { state: 'reconnecting', reconnects: 2, droppedFrames: 7 });
  assert.deepEqual(stats.outbox, { pending: 3, dropped: 1, durable: true, unstored: 2 }, 'delivery comes from the transport that has one');
  assert.deepEqual(stats.broker, { connected: true });
  assert.equal(a.events.length, 1);
  assert.equal(a.events[0]!.seq, 100, 'each transport numbers the event itself');
  assert.ok(published.events.safeParse(a.events[0]).success);
  const counts = a.messages.at(-1)!.payload as { events: { appeared: number } };
  assert.equal(counts.events.appeared, 1, 'the partial window at stop');
});

test('state: unchanged faces are not re-sent; a change within 250 ms waits for the throttle', async () => {
  const t = new FakeTransport('x', []);
  const now = { t: 1_780_000_000_000 };
  const p = producer([t], now);
  await p.start();
  await settle();
  const states = () => t.messages.filter((m) => m.kind === 'state').length;
  assert.equal(states(), 1, 'the empty state at start');
  p.onFrame(frame(0, [], now.t));
  assert.equal(states(), 1, 'same (empty) faces: nothing sent');
  now.t += 100;
  p.onFrame(frame(1, [{ id: 1, emotion: 'fear' }], now.t));
  assert.equal(states(), 1, 'a change 100 ms after the last state waits');
  now.t += 300;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(states(), 2, 'and is sent when the throttle allows');
  t.hub!.refreshState();
  assert.equal(states(), 3, 'refreshState sends at once');
  await p.stop();
});

test('a transport that throws does not keep the others from their messages and events; the failure is logged', async () => {
  const log: string[] = [];
  const bad = new FakeTransport('bad', [], { throwOnPublish: true });
  const good = new FakeTransport('good', []);
  const now = { t: 1_780_000_000_000 };
  const p = producer([bad, good], now, log);
  await p.start();
  p.onFrame(frame(0, [{ id: 1, emotion: 'happy' }], now.t));
  await p.onEvent(faceEvent(0, 'appeared', 'happy'));
  await p.stop();
  assert.equal(good.events.length, 1);
  assert.ok(good.messages.some((m) => m.kind === 'counts'));
  assert.ok(log.some((l) => /bad: event .* not delivered: disk on fire/.test(l)), log.join('\n'));
  assert.ok(log.some((l) => /bad: state not delivered: view gone/.test(l)));
});

test('a transport that fails to start: the ones started before it are stopped, the error is the caller’s', async () => {
  const order: string[] = [];
  const p = producer([new FakeTransport('dashboard', order), new FakeTransport('mqtt', order, { failStart: true }), new FakeTransport('never', order)], { t: 0 });
  await assert.rejects(p.start(), /mqtt: port 1883 in use/);
  assert.deepEqual(order, ['start dashboard', 'start mqtt', 'stop dashboard']);
  await p.stop();
  assert.deepEqual(order, ['start dashboard', 'start mqtt', 'stop dashboard'], 'nothing stopped twice');
});

test('state: same faces and emotions with another confidence are re-sent, at most once per STATE_REFRESH_MS', async () => {
  const t = new FakeTransport('x', []);
  const now = { t: 1_780_000_000_000 };
  const p = producer([t], now);
  await p.start();
  const face = (confidence: number) => ({ ...frame(0, [{ id: 1, emotion: 'surprise' }], now.t), faces: [{ ...frame(0, [{ id: 1, emotion: 'surprise' }], now.t).faces[0]!, confidence }] });
  now.t += 300;
  p.onFrame(face(0.8));
  const states = () => t.messages.filter((m) => m.kind === 'state').map((m) => (m.payload as { facesInView: { confidence: number }[] }).facesInView[0]?.confidence);
  assert.deepEqual(states(), [undefined, 0.8]);
  now.t += 300;
  p.onFrame(face(0.02));
  assert.deepEqual(states(), [undefined, 0.8], 'within a second of the last state: not yet');
  now.t += 800;
  p.onFrame(face(0.02));
  assert.deepEqual(states(), [undefined, 0.8, 0.02], 'the fallen confidence reaches the viewers');
  now.t += 2000;
  p.onFrame(face(0.0201));
  assert.deepEqual(states(), [undefined, 0.8, 0.02], 'jitter below a hundredth is not re-sent');
  await p.stop();
});
