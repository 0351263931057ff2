/** The broker check against a real mosquitto: reachable, refused port, wrong password, TLS with and without the CA. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { checkBroker, probeBroker } from '../../src/doctor/broker.js';
import { redactUrl as redactBroker } from '../../src/util/index.js';
import { freePort, makeTestPki, Mosquitto, tempDir } from '../mqtt/helpers/mosquitto.js';

const mqtt = (over: Record<string, unknown>) => configSchema.parse({ mqtt: over }).mqtt;
let open: Mosquitto;
let secured: Mosquitto;
let tls: Mosquitto;
let pki: ReturnType<typeof makeTestPki>;

before(async () => {
  pki = makeTestPki(tempDir('doctor-pki'));
  [open, secured, tls] = await Promise.all([
    Mosquitto.start(),
    Mosquitto.start({ users: { kiosk: 'right-password', colon: 'pa:ss w#rd' } }),
    Mosquitto.start({ tls: { ca: pki.ca, cert: pki.cert, key: pki.key } }),
  ]);
});
after(async () => {
  await Promise.all([open.stop(), secured.stop(), tls.stop()]);
});

test('a reachable broker is ok', async () => {
  const cfg = mqtt({ broker: open.url });
  const r = checkBroker(cfg, await probeBroker(cfg, 3000));
  assert.equal(r.status, 'ok', r.summary);
});

test('nothing listening: fails with what to look at', async () => {
  const cfg = mqtt({ broker: `mqtt://127.0.0.1:${await freePort()}` });
  const r = checkBroker(cfg, await probeBroker(cfg, 3000));
  assert.equal(r.status, 'fail');
  assert.match(r.fix!, /nothing listens there: is the broker running/);
  assert.match(r.fix!, /events queue in the outbox/);
});

test('wrong credentials: fails naming mqtt.username / mqtt.password; right ones pass', async () => {
  const bad = mqtt({ broker: secured.url, username: 'kiosk', password: 'wrong' });
  const r = checkBroker(bad, await probeBroker(bad, 3000));
  assert.equal(r.status, 'fail');
  assert.match(r.fix!, /refused the credentials: set mqtt\.username \/ mqtt\.password/);
  const good = mqtt({ broker: secured.url, username: 'kiosk', password: 'right-password' });
  assert.equal(checkBroker(good, await probeBroker(good, 3000)).status, 'ok');
});

test('credentials in the URL connect like the kiosk does (one options builder): a password with : # and a space, percent-encoded', async () => {
  const cfg = mqtt({ broker: `mqtt://colon:${encodeURIComponent('pa:ss w#rd')}@127.0.0.1:${secured.port}` });
  const r = checkBroker(cfg, await probeBroker(cfg, 3000));
  assert.equal(r.status, 'ok', r.summary);
  assert.match(r.summary, /mqtt:\/\/colon:\*\*\*@127\.0\.0\.1/);
});

test('TLS: the broker\'s CA from mqtt.ca passes, another CA fails with the TLS fix, a missing CA file is named', async () => {
  const url = `mqtts://localhost:${tls.port}`;
  const good = mqtt({ broker: url, ca: pki.ca });
  assert.equal(checkBroker(good, await probeBroker(good, 3000)).status, 'ok');
  const wrong = mqtt({ broker: url, ca: pki.otherCa });
  const r = checkBroker(wrong, await probeBroker(wrong, 3000));
  assert.equal(r.status, 'fail');
  assert.match(r.fix!, /TLS failed: set mqtt\.ca/);
  const missing = mqtt({ broker: url, ca: '/nonexistent/ca.pem' });
  assert.match(checkBroker(missing, await probeBroker(missing, 3000)).summary, /cannot read a TLS file \(mqtt\.ca\/cert\/key\)/);
});

test('none is skipped, embedded needs no probe, passwords never printed', () => {
  assert.equal(checkBroker(mqtt({ broker: 'none' }), undefined).status, 'skip');
  assert.equal(checkBroker(mqtt({ broker: 'embedded' }), undefined).status, 'ok');
  assert.equal(redactBroker('mqtt://user:secret@host:1883'), 'mqtt://user:***@host:1883');
  assert.equal(redactBroker('mqtt://kiosk:s3cr#t@broker:1883'), 'mqtt://***@broker:1883');
});
