/**
 * The operator's side of the command bus (`emotion-kiosk fleet`): one mqtt.js connection that learns the devices
 * from their retained topics (availability, stats, detection, model) and sends requests with a fresh transaction,
 * matching each response to its request by device and transaction. MQTT 5, so that the broker announces its
 * Maximum Packet Size (a model travels in one request) and says when it drops a message (a PUBACK reason code).
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { brokerAddress, clientOptions, type ConnectionSettings } from '../mqtt/index.js';
import { responseSchema, type RemoteResponse } from '../contract/index.js';

export interface DeviceView {
  deviceId: string;
  online: boolean | null;
  model: string | null;
  fps: number | null;
  outboxPending: number | null;
  detection: boolean | null;
  lastResponse: { command: string; status: string; at: number } | null;
}

/** timeout: no response; with `error`, the broker did not take the request (e.g. too big for its message_size_limit). */
export type RequestOutcome = { deviceId: string; response: RemoteResponse } | { deviceId: string; timeout: true; error?: string };

const LEVEL = /^[A-Za-z0-9_-]{1,128}$/;

export class FleetClient {
  readonly devices = new Map<string, DeviceView>();
  private readonly waiters = new Map<string, (r: RemoteResponse) => void>();
  /** Requests the broker has not acknowledged yet (PUBACK), and how to fail them. */
  private readonly unacked = new Map<string, (error: string) => void>();

  private constructor(
    private readonly client: MqttClient,
    private readonly prefix: string,
    /** The broker's Maximum Packet Size (MQTT 5 CONNACK; mosquitto max_packet_size), when it announced one. */
    readonly maximumPacketSize: number | undefined,
  ) {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    // mosquitto's message_size_limit answers a too-big QoS 1 publish with a PUBACK reason code that mqtt-packet
    // rejects ("Invalid puback reason code"): no callback names the packet, so every request not yet acknowledged fails
    client.on('error', (err) => {
      if (!/puback/i.test(err.message)) return;
      for (const fail of [...this.unacked.values()]) fail(`the broker refused the request (${err.message}; mosquitto: message_size_limit too small for it?)`);
    });
  }

  static async connect(settings: ConnectionSettings, prefix: string): Promise<FleetClient> {
    const s = { ...settings, clientId: settings.clientId ?? `emotion-kiosk-fleet-${randomUUID().slice(0, 8)}` };
    const client = mqtt.connect(brokerAddress(s.url), { ...clientOptions(s), protocolVersion: 5 });
    const max = await new Promise<number | undefined>((resolve, reject) => {
      const t = setTimeout(() => (client.end(true), reject(new Error(`no connection to the broker after 10 s`))), 10_000);
      client.once('connect', (connack) => (clearTimeout(t), resolve(connack.properties?.maximumPacketSize)));
      client.once('error', (e) => (clearTimeout(t), client.end(true), reject(e)));
    });
    const f = new FleetClient(client, prefix.replace(/^\/+|\/+$/g, ''), max);
    const p = f.prefix;
    await client.subscribeAsync([`${p}/+/response/#`, `${p}/+/availability`, `${p}/+/stats`, `${p}/+/detection`, `${p}/+/model`], { qos: 1 });
    return f;
  }

  private view(deviceId: string): DeviceView {
    let v = this.devices.get(deviceId);
    if (!v) {
      v = { deviceId, online: null, model: null, fps: null, outboxPending: null, detection: null, lastResponse: null };
      this.devices.set(deviceId, v);
    }
    return v;
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (!topic.startsWith(this.prefix + '/')) return;
    const [deviceId, kind, ...rest] = topic.slice(this.prefix.length + 1).split('/');
    if (!deviceId || !LEVEL.test(deviceId) || !kind) return;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      return; // an empty retained payload (cleared) or garbage
    }
    if (json === null || typeof json !== 'object') return;
    const v = this.view(deviceId);
    if (kind === 'availability' && rest.length === 0) v.online = json.state === 'online';
    else if (kind === 'stats' && rest.length === 0) {
      v.fps = typeof json.fps === 'number' ? json.fps : v.fps;
      const m = json.model as { version?: string } | undefined;
      if (typeof m?.version === 'string') v.model = m.version;
      const o = json.outbox as { pending?: number } | undefined;
      if (typeof o?.pending === 'number') v.outboxPending = o.pending;
    } else if (kind === 'detection' && rest.length === 0) v.detection = typeof json.enabled === 'boolean' ? json.enabled : null;
    else if (kind === 'model' && rest.length === 0) {
      const m = json.model as { version?: string } | undefined;
      if (typeof m?.version === 'string') v.model = m.version;
    } else if (kind === 'response') {
      const r = responseSchema.safeParse(json);
      if (!r.success || r.data.deviceId !== deviceId) return;
      v.lastResponse = { command: r.data.command, status: r.data.status, at: Date.now() };
      const t = r.data.transaction;
      if (t !== undefined) this.waiters.get(`${deviceId}\u0000${t}`)?.(r.data);
    }
  }

  /** Sends one request and waits for its response (or `timeoutMs`). */
  request(deviceId: string, command: string, params: Record<string, unknown>, timeoutMs: number): Promise<RequestOutcome> {
    const transaction = randomUUID();
    const key = `${deviceId}\u0000${transaction}`;
    return new Promise((resolve) => {
      const done = (outcome: RequestOutcome) => {
        clearTimeout(timer);
        this.waiters.delete(key);
        this.unacked.delete(key);
        resolve(outcome);
      };
      const timer = setTimeout(() => done({ deviceId, timeout: true }), timeoutMs);
      this.waiters.set(key, (response) => done({ deviceId, response }));
      this.unacked.set(key, (error) => done({ deviceId, timeout: true, error }));
      this.client.publish(`${this.prefix}/${deviceId}/request/${command}`, JSON.stringify({ ...params, transaction }), { qos: 1, retain: false }, (err) => {
        if (!err) this.unacked.delete(key);
        else done({ deviceId, timeout: true, error: `the broker refused the request (${err.message}; mosquitto: message_size_limit too small for it?)` });
      });
    });
  }

  /** A retained message of the operator (<prefix>/latest_model). */
  async publishRetained(topic: string, payload: string): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain: true });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
