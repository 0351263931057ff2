/**
 * The MQTT topic tree. Every topic the kiosk publishes or the dashboard subscribes to is built here, so the
 * prefix and device id are added in exactly one place (like zigbee2mqtt's single `publish()`).
 *
 *   <prefix>/<device>/availability   retained  {"version":1,"state":"online"|"offline",...}  (last will: offline)
 *   <prefix>/<device>/events         QoS 1     one message per face event (appeared / emotion_changed / left)
 *   <prefix>/<device>/state          retained  faces in view and their current emotions
 *   <prefix>/<device>/counts         retained  emotion counts over the last closed window
 *   <prefix>/<device>/stats          retained  fps, latencies, CPU, temperature, memory, uptime, outbox
 */
export const TOPIC_KINDS = ['availability', 'events', 'state', 'counts', 'stats'] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];

export type DeviceTopics = Record<TopicKind, string>;

export function deviceTopics(prefix: string, deviceId: string): DeviceTopics {
  const base = `${trimSlashes(prefix)}/${deviceId}`;
  return {
    availability: `${base}/availability`,
    events: `${base}/events`,
    state: `${base}/state`,
    counts: `${base}/counts`,
    stats: `${base}/stats`,
  };
}

/** Subscription filters for one device (`deviceId`) or every device under the prefix (`all`). */
export function subscriptionFilters(prefix: string, device: string | 'all'): string[] {
  const p = trimSlashes(prefix);
  const d = device === 'all' ? '+' : device;
  return TOPIC_KINDS.map((k) => `${p}/${d}/${k}`);
}

/** Splits a received topic into device id and kind; null when it is not one of ours. */
export function parseTopic(prefix: string, topic: string): { deviceId: string; kind: TopicKind } | null {
  const p = trimSlashes(prefix) + '/';
  if (!topic.startsWith(p)) return null;
  const rest = topic.slice(p.length).split('/');
  if (rest.length !== 2) return null;
  const [deviceId, kind] = rest as [string, string];
  if (!deviceId || !(TOPIC_KINDS as readonly string[]).includes(kind)) return null;
  return { deviceId, kind: kind as TopicKind };
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}
