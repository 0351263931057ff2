/**
 * mqtt-packet (the encoder under mqtt.js and aedes) keeps, for every packet length below 16384 it has written, the
 * encoded length as a 1-4 byte Buffer in a module-level cache, forever. Each of those Buffers is a slice of one of
 * Node's shared 8 KB allocation pools, so a length met for the first time after hours of running keeps a whole
 * 8 KB pool alive: the kiosk's payloads (stats, state, events) take many lengths, one new length after another,
 * and the process grows by 8 KB at each (seen in the soak's heap snapshots: every retained backing store at 8192
 * bytes, held by mqtt-packet's `varByteIntCache`). Bounded at 16384 lengths, i.e. up to 128 MB, reached over days.
 *
 * Filling the cache once, at start, with every length in one pass puts all 16384 entries into 16 consecutive pools
 * (128 KB in all), and nothing is added later. `fillPacketLengthCache()` does that through mqtt-packet's own
 * writer, on a sink that discards the bytes; it runs once per process, before the first connection (0.1-0.4 s
 * here, most of it the encoder's first, unoptimised calls).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The largest packet length mqtt-packet caches (its own limit) + 1. */
export const CACHED_LENGTHS = 16384;

interface PacketSink {
  write(chunk: Buffer): boolean;
  destroy(err?: Error): void;
}
type WriteToStream = (packet: Record<string, unknown>, stream: PacketSink, opts?: { protocolVersion: number }) => boolean;

let filled = false;

export function fillPacketLengthCache(): void {
  if (filled) return;
  filled = true;
  const writeToStream = (require('mqtt-packet') as { writeToStream: WriteToStream }).writeToStream;
  let failure: Error | undefined;
  const sink: PacketSink = {
    write: () => true,
    destroy: (err) => {
      failure = err;
    },
  };
  // Lengths 0-2: a disconnect (0), a puback (2); 1 is no packet's. A QoS 0 publish on the one-byte topic "x" has
  // length 3 + payload: payloads 0..16380 give every other length. Views of one buffer: no payload is allocated.
  writeToStream({ cmd: 'disconnect' }, sink, { protocolVersion: 4 });
  writeToStream({ cmd: 'puback', messageId: 1 }, sink, { protocolVersion: 4 });
  const payload = Buffer.alloc(CACHED_LENGTHS - 3);
  for (let n = 0; n <= payload.length; n++) {
    writeToStream({ cmd: 'publish', topic: 'x', payload: payload.subarray(0, n), qos: 0, retain: false, dup: false }, sink, { protocolVersion: 4 });
  }
  if (failure) throw new Error(`filling mqtt-packet's length cache failed: ${failure.message}`);
}
