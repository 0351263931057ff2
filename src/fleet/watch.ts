/**
 * Watches the command bus of the kiosks (for the dashboard, which does not import mqtt itself): every device's
 * retained model state and every response, each parsed with the contract (contract-remote.ts) before it is
 * delivered; what breaks it goes to onMalformed. Connects like the telemetry subscriber (same options).
 */
import { parseRemoteBytes, remoteWatchFilters, type RemoteMessage } from '../contract/index.js';
import { connectSubscriber, type SubscriberOptions } from '../mqtt/index.js';

export interface RemoteWatch {
  close(): Promise<void>;
}

export function watchRemote(o: SubscriberOptions, h: { onMessage(m: RemoteMessage): void; onMalformed?(topic: string, reason: string): void }): RemoteWatch {
  const client = connectSubscriber(o);
  client.on('connect', () => client.subscribe(remoteWatchFilters(o.prefix, o.device), { qos: 1 }));
  client.on('error', () => undefined); // the telemetry subscriber reports the connection state
  client.on('message', (topic, payload) => {
    if (payload.length === 0) return; // a cleared retained topic
    const r = parseRemoteBytes(o.prefix, topic, payload);
    if (!r) return;
    if (r.ok) h.onMessage(r.message);
    else h.onMalformed?.(topic, r.reason);
  });
  return { close: () => new Promise((resolve) => client.end(!client.connected, {}, () => resolve())) };
}
