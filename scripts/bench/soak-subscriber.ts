/**
 * The soak's receiving end (forked by scripts/bench/soak.ts): a persistent-session QoS 1 subscriber to the kiosk's
 * events that counts distinct event ids. It runs in its own process so that what it keeps is not in the kiosk's
 * figures. argv: broker URL, topic filter. Answers 'report' with { received, distinct, reconnects }.
 */
import mqtt from 'mqtt';

const [url, filter] = process.argv.slice(2) as [string, string];
const ids = new Set<string>();
let received = 0;
let reconnects = 0;
const client = mqtt.connect(url, { clientId: 'emotion-kiosk-soak-subscriber', clean: false, reconnectPeriod: 500 });
client.on('connect', (ack) => {
  // A persistent session survives the broker's restarts (mosquitto persistence); subscribe again only when it did not.
  if (!ack.sessionPresent) client.subscribe(filter, { qos: 1 });
  process.send?.({ connected: true });
});
client.on('reconnect', () => void reconnects++);
client.on('message', (_topic, payload) => {
  received++;
  try {
    const id = (JSON.parse(payload.toString()) as { eventId?: string }).eventId;
    if (id) ids.add(id);
  } catch {
    /* not ours */
  }
});
process.on('message', (m) => {
  if (m === 'report') process.send?.({ received, distinct: ids.size, reconnects });
  if (m === 'stop') client.end(false, {}, () => process.exit(0));
});
