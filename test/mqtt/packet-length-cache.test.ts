/**
 * mqtt-packet's length cache: without filling, a packet of a length not seen before allocates (and keeps) a new
 * pooled Buffer; after fillPacketLengthCache(), packets of any length below 16384 allocate none for their length.
 * Counted on Buffer.allocUnsafe(4), which is how mqtt-packet makes each cached entry. This file runs in its own
 * process (node --test), so the cache starts empty.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { CACHED_LENGTHS, fillPacketLengthCache } from '../../src/mqtt/packet-length-cache.js';
import { Rng } from '../../src/util/index.js';

const { writeToStream } = createRequire(import.meta.url)('mqtt-packet') as {
  writeToStream: (p: Record<string, unknown>, s: { write(b: Buffer): boolean; destroy(e?: Error): void }, o?: object) => boolean;
};
const sink = { write: () => true, destroy: (e?: Error) => assert.fail(e) };
const topic = 'emotion-kiosk/k1/events';

/** Buffer.allocUnsafe(4) calls while publishing one packet per payload size. */
function lengthAllocations(payloadSizes: number[]): number {
  const original = Buffer.allocUnsafe;
  let n = 0;
  Buffer.allocUnsafe = ((size: number) => {
    if (size === 4) n++;
    return original(size);
  }) as typeof Buffer.allocUnsafe;
  try {
    for (const size of payloadSizes) writeToStream({ cmd: 'publish', topic, payload: Buffer.alloc(size), qos: 1, messageId: 7, retain: false, dup: false }, sink, { protocolVersion: 4 });
  } finally {
    Buffer.allocUnsafe = original;
  }
  return n;
}

test('before the fill, each new packet length allocates a Buffer that the cache keeps; after it, none does', () => {
  // The counting sees mqtt-packet's allocation (so the second figure below can fail):
  assert.equal(lengthAllocations([1000, 1001, 1002]), 3, 'three new lengths, three cached Buffers');
  assert.equal(lengthAllocations([1000, 1001, 1002]), 0, 'the same lengths again come from the cache');

  fillPacketLengthCache();
  const rng = new Rng(5);
  const sizes = Array.from({ length: 2000 }, () => Math.floor(rng.next() * (CACHED_LENGTHS - topic.length - 4)));
  sizes.push(0, CACHED_LENGTHS - topic.length - 5);
  assert.equal(lengthAllocations(sizes), 0, 'every length below 16384 is already in the cache');
  fillPacketLengthCache(); // once per process: the second call does nothing
});
