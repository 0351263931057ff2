/**
 * A model rollout (`emotion-kiosk fleet rollout`): the canary devices alone first, then batches of the rest; each
 * device must answer model/update with ok and then report healthy on the new version within --wait-healthy; the
 * rollout stops at the first failure (the devices after it are skipped). Once the canary phase took the model it is
 * published as the fleet's latest (<prefix>/latest_model, retained: Home Assistant's update entity).
 *
 * The model travels over MQTT in one request (src/fleet/model-update.ts); before sending anything the request's
 * packet size is checked against the broker's limit (MQTT 5 CONNACK Maximum Packet Size: mosquitto max_packet_size),
 * and a broker that drops it (mosquitto message_size_limit: a PUBACK with an error reason code) is reported as such.
 */
import type { FleetClient } from './operator.js';
import { updateRequestBytes } from './model-update.js';
import type { ModelUpdateParams } from '../contract/index.js';

/** Rollout planning, pure: the canary devices alone first, then batches of the rest. */
export function planRollout(devices: readonly string[], canary: number, batch: number): string[][] {
  if (!Number.isInteger(canary) || canary < 0) throw new Error(`--canary ${canary}: expected a whole number >= 0`);
  if (!Number.isInteger(batch) || batch < 0) throw new Error(`--batch ${batch}: expected a whole number >= 0 (0: all the rest at once)`);
  const unique = [...new Set(devices)];
  const phases: string[][] = [];
  const first = unique.slice(0, canary);
  if (first.length > 0) phases.push(first);
  const rest = unique.slice(first.length);
  const size = batch === 0 ? rest.length : batch;
  for (let i = 0; i < rest.length; i += size) phases.push(rest.slice(i, i + size));
  return phases;
}

/** Bytes of the PUBLISH packet of a request (fixed header <= 5, topic, packet id, MQTT 5 properties length). */
export function publishPacketBytes(topic: string, payloadBytes: number): number {
  return 5 + 2 + Buffer.byteLength(topic, 'utf8') + 2 + 1 + payloadBytes;
}

/** Null when the broker takes a packet this big; else what to change, in plain words. Pure. */
export function brokerLimitProblem(packetBytes: number, maximumPacketSize: number | undefined): string | null {
  if (maximumPacketSize === undefined || packetBytes <= maximumPacketSize) return null;
  return `the broker accepts packets of at most ${maximumPacketSize} bytes (mosquitto: max_packet_size) and this model update is ${packetBytes} bytes: set max_packet_size to ${packetBytes} or more (or remove it: no limit) and message_size_limit to 0 or at least that, then run the rollout again`;
}

export interface RolloutOptions {
  prefix: string;
  targets: string[];
  canary: number;
  batch: number;
  waitHealthyMs: number;
  /** How long a device may take to answer model/update (it verifies and runs the reference faces first). */
  updateTimeoutMs: number;
  out: (line: string) => void;
}

export interface RolloutResult {
  /** device -> what happened (every target; "skipped ..." for those after a failure). */
  results: Map<string, string>;
  failed: boolean;
}

export async function runRollout(client: FleetClient, request: ModelUpdateParams, o: RolloutOptions): Promise<RolloutResult> {
  const results = new Map<string, string>();
  const version = (JSON.parse(request.manifest) as { version: string; name: string }).version;
  const name = (JSON.parse(request.manifest) as { name: string }).name;
  const phases = planRollout(o.targets, o.canary, o.batch);
  const finish = (failed: boolean): RolloutResult => {
    for (const d of o.targets) if (!results.has(d)) results.set(d, 'skipped (the rollout stopped before it)');
    return { results, failed };
  };

  const packet = publishPacketBytes(`${o.prefix}/${'x'.repeat(128)}/request/model/update`, updateRequestBytes(request));
  const limit = brokerLimitProblem(packet, client.maximumPacketSize);
  o.out(`model ${name} ${version}: ${request.size} bytes, request ${packet} bytes; broker limit ${client.maximumPacketSize ?? 'none announced'}`);
  if (limit) {
    o.out(`not sent: ${limit}`);
    for (const d of o.targets) results.set(d, 'not sent (broker packet size limit)');
    return { results, failed: true };
  }

  for (const [i, phase] of phases.entries()) {
    o.out(`${i === 0 && o.canary > 0 ? 'canary' : `batch ${o.canary > 0 ? i : i + 1}`}: ${phase.join(', ')}`);
    const outcomes = await Promise.all(phase.map((d) => client.request(d, 'model/update', { ...request }, o.updateTimeoutMs)));
    let failed = false;
    for (const r of outcomes) {
      if ('timeout' in r) {
        failed = true;
        results.set(r.deviceId, r.error ? `not delivered: ${r.error}` : `no response to model/update within ${Math.round(o.updateTimeoutMs / 1000)} s`);
      } else if (r.response.status !== 'ok') {
        failed = true;
        results.set(r.deviceId, /^refused/.test(r.response.error) ? r.response.error : `refused: ${r.response.error}`);
      } else {
        const ref = r.response.data.reference as { agree?: number; faces?: number; latencyRatio?: number } | undefined;
        const figures = ref ? ` (reference faces ${ref.agree}/${ref.faces}, latency ${ref.latencyRatio}x)` : '';
        results.set(r.deviceId, `${String(r.response.data.status)} ${String(r.response.data.version)}${figures}`);
      }
      o.out(`  ${r.deviceId}: ${results.get(r.deviceId)}`);
    }
    if (failed) return finish(true);
    for (const d of phase) {
      const h = await waitHealthy(client, d, version, o.waitHealthyMs);
      if (!h.ok) {
        results.set(d, `${results.get(d)}, then ${h.why}`);
        o.out(`  ${d}: ${h.why}: stopping the rollout`);
        return finish(true);
      }
      o.out(`  ${d}: healthy on ${version} (fps ${h.fps})`);
    }
    if (i === 0) {
      await client.publishRetained(`${o.prefix}/latest_model`, JSON.stringify({ version: 1, model: { name, version, sha256: request.sha256 }, since: Date.now() }));
      o.out(`  latest model of the fleet: ${version} (${o.prefix}/latest_model)`);
    }
  }
  return finish(false);
}

async function waitHealthy(client: FleetClient, d: string, version: string, waitMs: number): Promise<{ ok: true; fps: number } | { ok: false; why: string }> {
  const deadline = Date.now() + waitMs;
  let last = 'no health_check answer';
  for (;;) {
    const h = await client.request(d, 'health_check', {}, Math.max(1000, Math.min(10_000, deadline - Date.now())));
    if (!('timeout' in h) && h.response.status === 'ok') {
      const data = h.response.data as { healthy?: boolean; fps?: number; model?: { version?: string } };
      if (data.healthy === true && data.model?.version === version) return { ok: true, fps: data.fps ?? 0 };
      last = data.model?.version !== version ? `serving ${data.model?.version ?? '?'}, not ${version} (rolled back?)` : `unhealthy (fps ${data.fps ?? '?'})`;
    }
    if (Date.now() >= deadline) return { ok: false, why: `not healthy on ${version} within ${Math.round(waitMs / 1000)} s: ${last}` };
    await new Promise((r) => setTimeout(r, 1000));
  }
}
