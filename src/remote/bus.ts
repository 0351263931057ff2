/**
 * The command bus, without MQTT: one request (command name from the topic + payload bytes) in, exactly one response
 * out, whatever the bytes are. The kiosk is reached only through the RemoteHost port, so this is tested with a fake
 * host; src/remote/service.ts carries it over MQTT.
 */
import type { KioskConfig } from '../config/index.js';
import { MAX_REQUEST_BYTES, REMOTE_COMMANDS, REMOTE_PAYLOAD_VERSION, requestParams, transactionSchema, type DetectionState, type HealthData, type RemoteCommand, type RemoteResponse } from '../contract/index.js';
import { getKey, refusedReason, validateChanges } from './options.js';
import type { RemoteStore } from './store.js';

/** The kiosk as the command bus sees it. */
export interface RemoteHost {
  /** Everything of health_check except detectionEnabled (the bus knows that). */
  health(): Omit<HealthData, 'detectionEnabled'>;
  /** Pauses (false) or resumes (true) detection and events; capture and display continue. */
  setDetectionEnabled(enabled: boolean): void;
  /** The effective config now (file < environment < flags < remote options). */
  config(): KioskConfig;
  /** Takes a validated config with `keys` changed; returns the keys it applied live (the rest need a restart). */
  applyOptions(next: KioskConfig, keys: string[]): string[];
  /** A clean stop; systemd restarts the service. Called after the response went out. */
  restart(): void;
  /** One JPEG of the current frame (faces blurred when `blurFaces`), at most `maxWidth` px wide; null without a frame. */
  snapshot?(opts: { blurFaces: boolean; maxWidth: number }): Promise<Buffer | null>;
  /** Model updates (src/fleet); absent: refused. */
  modelUpdate?(params: unknown): Promise<Record<string, unknown>>;
  modelRollback?(): Promise<Record<string, unknown>>;
  /** The model serving now (retained on <prefix>/<device>/model). */
  modelState?(): { version: string; previous: string | null; status: 'active' | 'verifying' | 'rolled_back'; since: number; reason?: string } | undefined;
}

export interface Handled {
  response: RemoteResponse;
  /** Retained state to publish (topic kind -> payload) before the response. */
  detection?: DetectionState;
  snapshot?: Buffer;
  /** The model state changed: publish it retained. */
  modelState?: boolean;
  /** To run once the response was handed to the broker (restart). */
  after?: () => void;
}

export interface CommandBusOptions {
  deviceId: string;
  host: RemoteHost;
  store: RemoteStore;
  now?: () => number;
}

/** A request refused for a reason the operator should read as it is (no "<command> failed:" in front). */
export class RequestError extends Error {}

export class CommandBus {
  private readonly now: () => number;
  private detection: { enabled: boolean; since: number };

  constructor(private readonly o: CommandBusOptions) {
    this.now = o.now ?? Date.now;
    this.detection = o.store.readDetection(this.now());
  }

  /** Detection as stored (enabled unless paused remotely); the host applies it at start. */
  get detectionEnabled(): boolean {
    return this.detection.enabled;
  }

  detectionState(): DetectionState {
    return { version: REMOTE_PAYLOAD_VERSION, deviceId: this.o.deviceId, enabled: this.detection.enabled, since: this.detection.since };
  }

  /** Never throws: every failure becomes an error response. */
  async handle(command: string, bytes: Uint8Array): Promise<Handled> {
    let transaction: string | number | undefined;
    try {
      // a model travels base64 in its request (remote.maxModelBytes), with its manifest and reference faces (<= 2 MiB); everything else is small
      const limit = command === 'model/update' ? Math.ceil((this.o.host.config().remote.maxModelBytes * 4) / 3) + 3 * 1024 * 1024 : MAX_REQUEST_BYTES;
      const body = parseBody(bytes, limit);
      transaction = body.transaction;
      if (!(REMOTE_COMMANDS as readonly string[]).includes(command)) {
        throw new RequestError(`unknown command "${printable(command)}"; commands: ${REMOTE_COMMANDS.join(', ')}`);
      }
      const c = command as RemoteCommand;
      const parsed = requestParams[c].safeParse(body.params);
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new RequestError(`invalid parameters for ${c}: ${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`);
      }
      return await this.run(c, parsed.data, transaction);
    } catch (err) {
      const message = err instanceof RequestError ? err.message : `${command} failed: ${err instanceof Error ? err.message : String(err)}`;
      return { response: this.error(command, transaction, message) };
    }
  }

  private async run(c: RemoteCommand, params: unknown, transaction: string | number | undefined): Promise<Handled> {
    const cfg = this.o.host.config().remote;
    switch (c) {
      case 'health_check':
        return { response: this.ok(c, transaction, { ...this.o.host.health(), detectionEnabled: this.detection.enabled }) };
      case 'detection': {
        const { enabled } = params as { enabled: boolean };
        if (enabled !== this.detection.enabled) {
          this.detection = { enabled, since: this.now() };
          this.o.store.writeDetection(this.detection);
        }
        this.o.host.setDetectionEnabled(enabled);
        return { response: this.ok(c, transaction, { enabled, since: this.detection.since }), detection: this.detectionState() };
      }
      case 'options':
        return { response: this.ok(c, transaction, this.options(params as { get: string[] } | { set: Record<string, unknown> })) };
      case 'snapshot': {
        if (!cfg.snapshot.enabled) throw new RequestError('snapshots are off on this device (remote.snapshot.enabled: false in its config): no image leaves it unless its operator turns them on');
        if (!this.o.host.snapshot) throw new RequestError('this kiosk cannot take snapshots');
        const jpeg = await this.o.host.snapshot({ blurFaces: cfg.snapshot.blurFaces, maxWidth: cfg.snapshot.maxWidth });
        if (!jpeg) throw new RequestError('no frame yet: the camera has not delivered one');
        return { response: this.ok(c, transaction, { bytes: jpeg.length, facesBlurred: cfg.snapshot.blurFaces }), snapshot: jpeg };
      }
      case 'restart':
        if (!cfg.allowRestart) throw new RequestError('restart is off on this device (remote.allowRestart: false in its config)');
        return { response: this.ok(c, transaction, { restarting: true }), after: () => this.o.host.restart() };
      case 'model/update':
        if (!cfg.modelKey) {
          throw new RequestError(
            'model updates are refused: no trusted model key on this device. Create a key pair with `emotion-kiosk fleet keygen`, then install the .pub file on the device with `sudo device/setup.sh --model-key <file.pub>` (or set remote.modelKey to its path)',
          );
        }
        if (!this.o.host.modelUpdate) throw new RequestError('this kiosk cannot take model updates');
        return { response: this.ok(c, transaction, await this.o.host.modelUpdate(params)), modelState: true };
      case 'model/rollback':
        if (!this.o.host.modelRollback) throw new RequestError('this kiosk has no previous model to return to');
        return { response: this.ok(c, transaction, await this.o.host.modelRollback()), modelState: true };
    }
  }

  private options(p: { get: string[] } | { set: Record<string, unknown> }): Record<string, unknown> {
    const host = this.o.host;
    const current = host.config();
    if ('get' in p) {
      const values: Record<string, unknown> = {};
      const unknown: string[] = [];
      for (const key of p.get) {
        // the remote settings and credentials are not secret from an operator, but mqtt.password is never sent
        if (/(^|\.)(password|key)$/.test(key) || key === 'mqtt') throw new RequestError(`${key} is not readable remotely`);
        const v = getKey(current, key);
        if (v.found) values[key] = v.value;
        else unknown.push(key);
      }
      if (unknown.length > 0) throw new RequestError(`unknown key(s): ${unknown.join(', ')}`);
      return { values };
    }
    if (!current.remote.allowOptions) throw new RequestError('setting options is off on this device (remote.allowOptions: false in its config)');
    const refused = Object.keys(p.set).map(refusedReason).filter((r): r is string => r !== null);
    if (refused.length > 0) throw new RequestError(refused.join('; '));
    const v = validateChanges(current, p.set);
    if (!v.ok) throw new RequestError(v.error);
    this.o.store.addOptions(p.set);
    const live = new Set(host.applyOptions(v.config, v.changed));
    const restartRequired = v.changed.filter((k) => !live.has(k));
    const values: Record<string, unknown> = {};
    for (const k of v.changed) values[k] = getKey(v.config, k).found ? (getKey(v.config, k) as { value: unknown }).value : null;
    return { values, applied: [...live], restartRequired, persisted: true };
  }

  private ok(command: string, transaction: string | number | undefined, data: Record<string, unknown>): RemoteResponse {
    return { version: REMOTE_PAYLOAD_VERSION, deviceId: this.o.deviceId, command, ...(transaction !== undefined ? { transaction } : {}), status: 'ok', data };
  }

  private error(command: string, transaction: string | number | undefined, error: string): RemoteResponse {
    return {
      version: REMOTE_PAYLOAD_VERSION,
      deviceId: this.o.deviceId,
      command: printable(command),
      ...(transaction !== undefined ? { transaction } : {}),
      status: 'error',
      error: error.slice(0, 2000),
    };
  }
}

/** Size, JSON, an object, and the transaction split off. An empty payload is `{}` (e.g. mosquitto_pub -n). */
function parseBody(bytes: Uint8Array, limit: number): { transaction?: string | number; params: Record<string, unknown> } {
  if (bytes.length > limit) throw new RequestError(`request of ${bytes.length} bytes (more than ${limit})`);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8').trim();
  if (text.length === 0) return { params: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RequestError('malformed request: not JSON (send a JSON object, e.g. {"transaction": 1})');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new RequestError('malformed request: expected a JSON object');
  const { transaction, ...params } = json as Record<string, unknown>;
  if (transaction === undefined) return { params };
  const t = transactionSchema.safeParse(transaction);
  if (!t.success) throw new RequestError('malformed request: transaction must be a string (at most 200 characters) or a number');
  return { transaction: t.data, params };
}

function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 200);
}
