/** Bytes from the broker as JSON, size first: the one way every contract parser turns a payload into a value. Never throws. */
export function parseJsonBytes(bytes: Uint8Array, maxBytes: number): { ok: true; json: unknown } | { ok: false; reason: string } {
  if (bytes.length > maxBytes) return { ok: false, reason: `payload of ${bytes.length} bytes (more than ${maxBytes})` };
  try {
    return { ok: true, json: JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')) };
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
}
