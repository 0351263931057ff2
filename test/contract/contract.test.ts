/** One contract: the zod schemas (src/contract/contract.ts) generate contract.schema.json, and readers parse with them. */
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contractJsonSchema, MAX_PAYLOAD_BYTES, parseContractBytes, parseContractMessage, published } from '../../src/contract/contract.js';
import { availabilityPayload, eventPayload, statsPayload } from '../../src/telemetry/payloads.js';
import { deriveState, WindowCounter } from '../../src/telemetry/reducers.js';
import { contractErrors, faceEvent, frame, MODEL } from '../mqtt/helpers/fixtures.js';

const stats = (over: { unstored?: number } = {}) =>
  statsPayload({
    deviceId: 'k',
    now: 1_780_000_000_000,
    startedAt: 1_780_000_000_000 - 5000,
    health: { systemUptimeS: 100, cpuLoadPct: 12.5, temperatureC: null, memUsedPct: 40, processRssMb: 120 },
    frames: { fps: 15, frames: 30, latencyMs: { capture: 2, detect: 12, classify: 4 } },
    outbox: { pending: 0, dropped: 0, durable: true, unstored: 0, ...over },
    camera: { state: 'connected', reconnects: 0, droppedFrames: 0 },
    brokerConnected: true,
    model: MODEL,
  });

test('the committed contract.schema.json is the one generated from the zod schemas', () => {
  const committed = readFileSync(new URL('../../src/contract/contract.schema.json', import.meta.url), 'utf8');
  const generated = JSON.stringify(contractJsonSchema(), null, 2) + '\n';
  assert.equal(committed, generated, 'src/contract/contract.schema.json is stale: run node --import tsx scripts/contract-schema.ts and commit it');
});

test('what the kiosk builds passes both the zod schemas and the generated JSON Schema (ajv)', () => {
  const msgs = {
    availability: [availabilityPayload('k', 'online', { timestamp: 1 }), availabilityPayload('k', 'offline', { reason: 'connection_lost' })],
    events: [eventPayload('k', 0, faceEvent(0, 'appeared')), eventPayload('k', 1, faceEvent(1, 'emotion_changed')), eventPayload('k', -1, faceEvent(2, 'left'))],
    state: [deriveState('k', MODEL, frame(1, [{ id: 1, emotion: 'fear' }]), 5)],
    counts: [new WindowCounter('k', 60, 0).close(60_000)],
    stats: [stats({ unstored: 3 })],
  } as const;
  for (const [kind, list] of Object.entries(msgs) as [keyof typeof msgs, readonly unknown[]][]) {
    for (const m of list) {
      assert.equal(contractErrors(kind, m), '', `${kind}: ${JSON.stringify(m)}`);
      assert.ok(published[kind].safeParse(m).success, kind);
      assert.ok(parseContractMessage('k', kind, m).ok, kind);
    }
  }
});

test('stats: the kiosk always publishes outbox.unstored; a reader still accepts stats from older kiosks without it', () => {
  assert.equal(stats().outbox.unstored, 0);
  const old = stats() as unknown as { outbox: Record<string, unknown> };
  delete old.outbox.unstored;
  assert.notEqual(contractErrors('stats', old), '', 'the published contract requires it');
  const r = parseContractMessage('k', 'stats', old);
  assert.ok(r.ok && r.message.kind === 'stats' && r.message.payload.outbox.unstored === undefined);
  assert.equal(parseContractMessage('k', 'stats', { ...stats(), outbox: { ...stats().outbox, unstored: -1 } }).ok, false);
});

test('the reproduced killers are rejected with a reason; topic and payload device ids must agree', () => {
  const cases: [Parameters<typeof parseContractMessage>[1], unknown][] = [
    ['state', { version: 1 }],
    ['events', { version: 1, deviceId: 'k', eventId: 'x' }],
    ['stats', { version: 1, deviceId: 'k' }],
    ['events', { ...eventPayload('k', 0, faceEvent(0, 'appeared')), timestamp: 1e300 }],
    ['state', { ...deriveState('k', MODEL, frame(1, []), 5), facesInView: [{ faceId: 1, emotion: 7, confidence: 1, firstSeen: 0 }] }],
    ['availability', { version: 1, deviceId: 'k', state: 'offline' }],
    ['stats', { ...stats(), model: { name: '\u001b]0;pwned\u0007', version: '1' } }],
  ];
  for (const [kind, payload] of cases) {
    const r = parseContractMessage('k', kind, payload);
    assert.equal(r.ok, false, `${kind}: ${JSON.stringify(payload)}`);
    if (!r.ok) assert.ok(r.reason.length > 0);
  }
  assert.equal(parseContractMessage('other', 'stats', stats()).ok, false, 'payload of k on the topic of other');
  assert.equal(parseContractMessage('\u001b[2J', 'stats', { ...stats(), deviceId: '\u001b[2J' }).ok, false);
  assert.equal(parseContractBytes('k', 'stats', Buffer.from('{"version":')).ok, false);
  assert.equal(parseContractBytes('k', 'stats', Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20)).ok, false);
  assert.ok(parseContractBytes('k', 'stats', Buffer.from(JSON.stringify(stats()))).ok);
});
