/**
 * One outbox record per line, framed so that a reader can check it: `<length> <crc32> <json>\n`
 *   length  decimal byte length of <json>
 *   crc32   8 lowercase hex digits, CRC-32 (IEEE, as zlib/gzip) of the <json> bytes
 *   json    {"s":seq,"t":storedAtMs,"topic":...,"p":payload}  (JSON.stringify escapes newlines: one line)
 * Lines that start with `{` are the format before framing (plain JSON lines, written by emotion-kiosk up to 0.1.x):
 * they are still read, so a device upgraded in place sends what its old version stored.
 */
import zlib from 'node:zlib';

export interface FramedRecord {
  seq: number;
  storedAt: number;
  topic: string;
  payload: string;
}

/** zlib.crc32 is in Node >= 20.15 / 22.2; the table fallback keeps older Node 20 releases (engines: >=20) working. */
const zlibCrc32 = (zlib as unknown as { crc32?: (data: Buffer) => number }).crc32;
let table: Uint32Array | null = null;
function tableCrc32(data: Buffer): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
export const crc32: (data: Buffer) => number = zlibCrc32 ? (d) => zlibCrc32(d) : tableCrc32;

/** The smallest record a segment can hold (a legacy line of an empty topic and payload): bounds the seqs in N bytes. */
export const MIN_RECORD_BYTES = 32;

export function frameRecord(r: FramedRecord): Buffer {
  const body = Buffer.from(JSON.stringify({ s: r.seq, t: r.storedAt, topic: r.topic, p: r.payload }));
  const head = Buffer.from(`${body.length} ${crc32(body).toString(16).padStart(8, '0')} `);
  return Buffer.concat([head, body, NL]);
}
const NL = Buffer.from('\n');

function fromJson(text: string): FramedRecord | null {
  try {
    const j = JSON.parse(text) as { s?: unknown; t?: unknown; topic?: unknown; p?: unknown };
    if (!Number.isSafeInteger(j.s) || (j.s as number) < 0 || typeof j.topic !== 'string' || typeof j.p !== 'string') return null;
    return { seq: j.s as number, storedAt: typeof j.t === 'number' ? j.t : 0, topic: j.topic, payload: j.p };
  } catch {
    return null;
  }
}

const HEAD = /^(\d{1,9}) ([0-9a-f]{8}) /;
const SPACE = 0x20;

/** A complete line (without its newline): the record, or null when it fails its length, CRC or JSON check. */
export function parseLine(line: Buffer): FramedRecord | null {
  if (line[0] === 0x7b /* { */) return fromJson(line.toString('utf8'));
  const sp1 = line.indexOf(SPACE);
  const sp2 = sp1 < 0 ? -1 : line.indexOf(SPACE, sp1 + 1);
  if (sp2 < 0 || sp2 > 20) return null;
  const m = HEAD.exec(line.subarray(0, sp2 + 1).toString('latin1'));
  if (!m) return null;
  const body = line.subarray(sp2 + 1);
  if (body.length !== Number(m[1]) || crc32(body) !== parseInt(m[2]!, 16)) return null;
  return fromJson(body.toString('utf8'));
}

/**
 * An unterminated last line that looks like the start of a record (what a write cut short leaves), as opposed to
 * damaged bytes. A torn record was never reported stored (its fsync had not returned).
 */
export function looksTorn(tail: Buffer): boolean {
  if (tail[0] === 0x7b) return true;
  const head = tail.subarray(0, 20).toString('latin1');
  const m = HEAD.exec(head);
  if (m) return tail.length - m[0].length < Number(m[1]);
  return /^\d{1,9}( [0-9a-f]{0,8})?$/.test(tail.toString('latin1'));
}
