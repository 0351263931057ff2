/**
 * The command bus contract (issue 15), beside the telemetry contract in contract.ts (which adds these to the
 * generated contract.schema.json). Like zigbee2mqtt's bridge/request -> bridge/response with a `transaction` echo:
 *
 *   <prefix>/<device>/request/<command>    operator -> kiosk, JSON, QoS 1, not retained
 *   <prefix>/<device>/response/<command>   kiosk -> operator, JSON, QoS 1, not retained: exactly one per request
 *   <prefix>/<device>/detection            retained {"version":1,"deviceId":..,"enabled":bool,"since":ms} (Frigate's <feature>/state)
 *   <prefix>/<device>/model                retained {"version":1,...,"model":{version,previous,status,since}}
 *
 * Pure: schemas and topic helpers only. Self-contained (contract.ts imports this file, not the other way round).
 */
import { z } from 'zod';
import { parseJsonBytes } from './json-bytes.js';

export const REMOTE_PAYLOAD_VERSION = 1;
/** Largest request a kiosk parses (a model update that travels over MQTT has its own, larger limit). */
export const MAX_REQUEST_BYTES = 64 * 1024;

export const REMOTE_COMMANDS = ['health_check', 'detection', 'options', 'snapshot', 'restart', 'model/update', 'model/rollback'] as const;
export type RemoteCommand = (typeof REMOTE_COMMANDS)[number];

const version = z.literal(REMOTE_PAYLOAD_VERSION);
const deviceId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'letters, digits, _ and - only (1-128)');
const epochMs = z.int().min(0).max(8_640_000_000_000_000).describe('epoch milliseconds');
const count = z.int().min(0);
const text = z.string().max(2000);
/** Echoed as sent (zigbee2mqtt's `transaction`): a string or a number. */
export const transactionSchema = z.union([z.string().max(200), z.number().finite()]);
/** A config key as a dotted path, e.g. tracking.minDwellMs. */
export const optionKeySchema = z.string().regex(/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/, 'a dotted config key such as tracking.minDwellMs').max(200);

// ---- request parameters (the JSON body, less `transaction`); strict: a misspelt parameter is an error ----

export const requestParams = {
  health_check: z.object({}).strict(),
  detection: z.object({ enabled: z.boolean() }).strict(),
  options: z.union([
    z.object({ get: z.array(optionKeySchema).min(1).max(100) }).strict(),
    z.object({ set: z.record(optionKeySchema, z.unknown()).refine((o) => Object.keys(o).length > 0, 'set at least one key') }).strict(),
  ]),
  snapshot: z.object({}).strict(),
  restart: z.object({}).strict(),
  'model/update': z
    .object({
      /** The signed bundle (src/fleet/signing.ts) as base64 JSON fields. */
      manifest: z.string().min(2).max(256 * 1024),
      signature: z.string().min(1).max(4096),
      model: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      size: count,
      /** The reference faces file (src/model/reference-faces.ts) the manifest names with its sha256; required by the device. */
      reference: z.string().max(2 * 1024 * 1024).optional(),
    })
    .strict(),
  'model/rollback': z.object({}).strict(),
} as const satisfies Record<RemoteCommand, z.ZodType>;

// ---- responses ----

const responseBase = { version, deviceId, transaction: transactionSchema.optional(), command: z.string().max(200) };
export const responseSchema = z
  .discriminatedUnion('status', [
    z.object({ ...responseBase, status: z.literal('ok'), data: z.record(z.string(), z.unknown()) }),
    z.object({ ...responseBase, status: z.literal('error'), error: text.min(1) }),
  ])
  .meta({
    description:
      '<prefix>/<device>/response/<command>, QoS 1, not retained: exactly one per request on <prefix>/<device>/request/<command>, also for malformed JSON, unknown commands, invalid parameters and commands the device does not allow (status error). transaction: the request\'s, echoed.',
  });

export const healthDataSchema = z.object({
  healthy: z.boolean().describe('false when frames stalled (none for longer than remote.stallMs) or none arrived yet'),
  fps: z.number().min(0),
  lastFrameAgeMs: count.nullable(),
  faces: count,
  detectionEnabled: z.boolean(),
  broker: z.object({ connected: z.boolean() }),
  outbox: z.object({ pending: count, dropped: count }),
  model: z.object({ name: z.string(), version: z.string() }),
  uptimeS: count,
});

export const detectionStateSchema = z
  .object({ version, deviceId, enabled: z.boolean(), since: epochMs })
  .meta({ description: '<prefix>/<device>/detection, retained, QoS 1: whether detection and events run (the detection command changes it; kept across restarts).' });

export const modelStateSchema = z
  .object({
    version,
    deviceId,
    model: z.object({
      version: z.string().max(200),
      previous: z.string().max(200).nullable(),
      status: z.enum(['active', 'verifying', 'rolled_back']),
      since: epochMs,
      /** verifying: when the rollback window closes. */
      until: epochMs.optional(),
      reason: text.optional(),
    }),
  })
  .meta({
    description:
      '<prefix>/<device>/model, retained, QoS 1: the model serving now (version), the one before it, and its status: verifying from a switch until the rollback window closes (until; a failure rolls it back by itself), then active; rolled_back after a rollback (reason).',
  });

export const latestModelSchema = z
  .object({
    version,
    model: z.object({ name: z.string().max(200), version: z.string().max(200), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
    since: epochMs,
  })
  .meta({ description: '<prefix>/latest_model, retained, QoS 1, published by the operator (fleet rollout, once the canary took the model): the latest model of the fleet (Home Assistant update entity: latest version).' });

export type RemoteResponse = z.infer<typeof responseSchema>;
export type ModelUpdateParams = z.infer<(typeof requestParams)['model/update']>;
export type ModelStatePayload = z.infer<typeof modelStateSchema>;
export type HealthData = z.infer<typeof healthDataSchema>;
export type DetectionState = z.infer<typeof detectionStateSchema>;

/** Schemas that go into contract.schema.json's $defs. */
export const remoteContractSchemas = {
  response: responseSchema,
  detection: detectionStateSchema,
  modelState: modelStateSchema,
  latestModel: latestModelSchema,
  modelUpdateRequest: requestParams['model/update'].meta({
    description:
      '<prefix>/<device>/request/model/update (plus an optional transaction): a signed model in one request. manifest and signature: the files\' text; model: the ONNX file, base64; reference: the reference faces file the manifest names with its sha256. The broker must allow the whole packet (about the model size * 4/3 + 200 KB): mosquitto max_packet_size and message_size_limit 0 or larger.',
  }),
} as const;

// ---- topics ----

export interface RemoteTopics {
  /** Subscription filter for every request to this device. */
  requests: string;
  request(command: string): string;
  response(command: string): string;
  detection: string;
  model: string;
  snapshot: string;
}

export function remoteTopics(prefix: string, deviceId: string): RemoteTopics {
  const base = `${prefix.replace(/^\/+|\/+$/g, '')}/${deviceId}`;
  return {
    requests: `${base}/request/#`,
    request: (c) => `${base}/request/${c}`,
    response: (c) => `${base}/response/${c}`,
    detection: `${base}/detection`,
    model: `${base}/model`,
    snapshot: `${base}/snapshot`,
  };
}

/**
 * <prefix>/latest_model (retained): the model the operator last rolled out (`fleet rollout`, once its canary took it):
 * Home Assistant's update entity shows it as the latest version. Two levels, so it can never be a device's topic.
 */
export function latestModelTopic(prefix: string): string {
  return `${prefix.replace(/^\/+|\/+$/g, '')}/latest_model`;
}

/** The discovery inputs of the command bus for a kiosk with remote control on (image entity, model update entity). */
export function remoteDiscoveryTopics(remote: { enabled: boolean; snapshot: { enabled: boolean } }, prefix: string, deviceId: string): { snapshotTopic?: string; modelTopic?: string; latestModelTopic?: string } {
  if (!remote.enabled) return {};
  const t = remoteTopics(prefix, deviceId);
  return { ...(remote.snapshot.enabled ? { snapshotTopic: t.snapshot } : {}), modelTopic: t.model, latestModelTopic: latestModelTopic(prefix) };
}

/** The command named by a request topic of this device (`model/update` has two levels), or null when it is not one. */
export function commandOfTopic(topics: RemoteTopics, topic: string): string | null {
  const head = topics.request('');
  if (!topic.startsWith(head)) return null;
  const c = topic.slice(head.length);
  return c.length > 0 && c.length <= 200 ? c : null;
}

// ---- what a watcher (the dashboard) reads of the command bus ----

/** Largest response or model state a watcher parses. */
export const MAX_WATCHED_BYTES = 256 * 1024;

export type RemoteMessage = { deviceId: string; kind: 'model'; payload: ModelStatePayload } | { deviceId: string; kind: 'response'; payload: RemoteResponse };

/** The subscriptions of a watcher: every device's (or one device's) retained model state and responses. */
export function remoteWatchFilters(prefix: string, device: string | 'all'): string[] {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  const d = device === 'all' ? '+' : device;
  return [`${p}/${d}/model`, `${p}/${d}/response/#`];
}

/**
 * One received message of the command bus, checked like the telemetry contract: size, JSON, shape, and that the
 * topic's device id is the payload's. null: not a model state or response topic under `prefix`.
 */
export function parseRemoteBytes(prefix: string, topic: string, bytes: Uint8Array): { ok: true; message: RemoteMessage } | { ok: false; reason: string } | null {
  const p = prefix.replace(/^\/+|\/+$/g, '') + '/';
  if (!topic.startsWith(p)) return null;
  const [deviceId, kind, ...rest] = topic.slice(p.length).split('/');
  const isModel = kind === 'model' && rest.length === 0;
  const isResponse = kind === 'response' && rest.length > 0;
  if (!deviceId || (!isModel && !isResponse)) return null;
  if (!deviceId.match(/^[A-Za-z0-9_-]{1,128}$/)) return { ok: false, reason: 'device id in the topic is not letters, digits, _ and -' };
  const j = parseJsonBytes(bytes, MAX_WATCHED_BYTES);
  if (!j.ok) return j;
  const r = (isModel ? modelStateSchema : responseSchema).safeParse(j.json);
  if (!r.success) {
    const i = r.error.issues[0];
    return { ok: false, reason: i ? `${i.path.join('.') || '(payload)'}: ${i.message}` : 'invalid' };
  }
  if (r.data.deviceId !== deviceId) return { ok: false, reason: 'deviceId differs from the topic' };
  return { ok: true, message: (isModel ? { deviceId, kind: 'model', payload: r.data } : { deviceId, kind: 'response', payload: r.data }) as RemoteMessage };
}
