/** The dashboard's subscriber connects like the kiosk (one options builder): a broker that requires client certificates. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribeKiosks } from '../../src/mqtt/subscriber.js';
import { makeTestPki, Mosquitto, tempDir, waitFor } from './helpers/mosquitto.js';

let pki: ReturnType<typeof makeTestPki>;
let broker: Mosquitto;
before(async () => {
  pki = makeTestPki(tempDir('sub-pki'));
  broker = await Mosquitto.start({ tls: { ca: pki.ca, cert: pki.cert, key: pki.key, requireClientCert: true } });
});
after(async () => {
  await broker.stop();
});

async function attempt(withCert: boolean): Promise<{ connected: boolean; error: string | null }> {
  let last: { connected: boolean; error: string | null } | null = null;
  const sub = subscribeKiosks(
    { url: `mqtts://localhost:${broker.port}`, prefix: 'ek', device: 'all', ca: pki.ca, ...(withCert ? { cert: pki.clientCert, key: pki.clientKey } : {}) },
    { onMessage: () => {}, onStatus: (s) => (last = s) },
  );
  try {
    return await waitFor(() => (last && (last.connected || last.error) ? last : null), 15_000, `a connection status (client certificate: ${withCert})`);
  } finally {
    await sub.close();
  }
}

test('with --cert/--key the dashboard connects to a broker that requires a client certificate; without, it is refused', { timeout: 60_000 }, async () => {
  const ok = await attempt(true);
  assert.equal(ok.connected, true, String(ok.error));
  const refused = await attempt(false);
  assert.equal(refused.connected, false);
  assert.ok(refused.error, 'says why');
});
