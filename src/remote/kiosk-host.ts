/**
 * The RemoteHost of a running kiosk (src/app/kiosk-app.ts starts it as one Lifecycle resource when remote.enabled):
 * - detection pause: a detector wrapper that finds no faces while paused (capture, display and stats go on; faces in
 *   view then leave after tracking.maxMissingMs, one `left` event each, and no event follows until resumed);
 * - options applied live where the kiosk reads them per frame (the tracker's and the detector's settings: they get
 *   mutable copies of their config sections); everything else is persisted and says restartRequired;
 * - health from the frames (FrameHealthSink), the MQTT transport's status and the model;
 * - restart: a clean stop with exit code 75 (EX_TEMPFAIL), which systemd's Restart=on-failure brings back.
 */
import type { KioskConfig } from '../config/schema.js';
import type { Box } from '../events/types.js';
import type { ModelRef } from '../events/types.js';
import type { HealthData } from '../mqtt/contract-remote.js';
import type { Logger } from '../util/logger.js';
import { receiveModelUpdate, type ModelUpdateParams } from '../fleet/model-update.js';
import { EmotionClassifier } from '../model/emotion-classifier.js';
import type { RemoteHost } from './bus.js';
import { FrameHealthSink, RemoteService, mqttTransport, remoteConnectionSettings, type RemoteTransport } from './service.js';
import { RemoteStore, applyStoredOptions } from './store.js';

/** The exit code of a remote restart: not 0, so that systemd's Restart=on-failure starts the service again. */
export const RESTART_EXIT_CODE = 75;

export interface DetectorLike<M> {
  detectAndCrop(mat: M, cropSize: number): Array<{ box: Box; crop: Uint8Array }>;
}

export class PausableDetector<M> implements DetectorLike<M> {
  enabled = true;
  constructor(private readonly inner: DetectorLike<M>) {}
  detectAndCrop(mat: M, cropSize: number): Array<{ box: Box; crop: Uint8Array }> {
    return this.enabled ? this.inner.detectAndCrop(mat, cropSize) : [];
  }
}

/** Config keys a running kiosk applies live (read per frame from the objects below). */
export const LIVE_SECTIONS = ['tracking', 'detection'] as const;
const RESTART_ONLY = new Set(['detection.everyNthFrame', 'detection.cascade']);

export function isLiveKey(key: string): boolean {
  if (RESTART_ONLY.has(key)) return false;
  return LIVE_SECTIONS.some((s) => key === s || key.startsWith(s + '.')) && key !== 'detection';
}

/** Layers the options set remotely (data dir) over the config; call before anything reads the config. */
export function withRemoteOptions(config: KioskConfig, logger: Logger): KioskConfig {
  if (!config.remote.enabled) return config;
  const { config: next, notes } = applyStoredOptions(config, new RemoteStore(config.dataDir));
  for (const n of notes) logger.info(n);
  return next;
}

export interface KioskHostDeps {
  config: KioskConfig;
  deviceId: string;
  model: ModelRef;
  /** The live objects the tracker and the detector read (mutated in place on a live change). */
  live: { tracking: KioskConfig['tracking']; detection: KioskConfig['detection'] };
  detector: PausableDetector<unknown>;
  frames: FrameHealthSink;
  broker: () => { connected: boolean; pending: number; dropped: number } | null;
  /** Stops the kiosk (the run's abort). */
  stop: () => void;
  logger: Logger;
  now?: () => number;
}

export class KioskHost implements RemoteHost {
  private cfg: KioskConfig;
  private readonly startedAt: number;
  private readonly now: () => number;
  constructor(private readonly d: KioskHostDeps) {
    this.cfg = d.config;
    this.now = d.now ?? Date.now;
    this.startedAt = this.now();
  }
  health(): Omit<HealthData, 'detectionEnabled'> {
    const f = this.d.frames.read(this.cfg.remote.stallMs);
    const b = this.d.broker();
    return {
      ...f,
      broker: { connected: b?.connected ?? false },
      outbox: { pending: b?.pending ?? 0, dropped: b?.dropped ?? 0 },
      model: { name: this.d.model.name, version: this.d.model.version },
      uptimeS: Math.max(0, Math.floor((this.now() - this.startedAt) / 1000)),
    };
  }
  setDetectionEnabled(enabled: boolean): void {
    if (this.d.detector.enabled !== enabled) this.d.logger.info(`detection ${enabled ? 'resumed' : 'paused'} over MQTT`);
    this.d.detector.enabled = enabled;
  }
  config(): KioskConfig {
    return this.cfg;
  }
  applyOptions(next: KioskConfig, keys: string[]): string[] {
    this.cfg = next;
    const live = keys.filter(isLiveKey);
    if (live.length > 0) {
      Object.assign(this.d.live.tracking, next.tracking);
      const { everyNthFrame: _e, cascade: _c, ...detection } = next.detection;
      Object.assign(this.d.live.detection, detection);
    }
    this.d.logger.info(`options set over MQTT: ${keys.join(', ')}${live.length < keys.length ? ' (some after a restart)' : ''}`);
    return live;
  }
  async modelUpdate(params: unknown): Promise<Record<string, unknown>> {
    const r = this.cfg.remote;
    return receiveModelUpdate(params as ModelUpdateParams, {
      modelKeyFile: r.modelKey!,
      dataDir: this.cfg.dataDir,
      maxBytes: r.maxModelBytes,
      // a second onnxruntime session with the manifest checks, while the current model keeps serving
      tryLoad: async (onnx) => (await EmotionClassifier.load(onnx, { intraOpThreads: 1 })).close(),
    });
  }
  restart(): void {
    this.d.logger.info(`restart requested over MQTT: stopping (exit ${RESTART_EXIT_CODE}; systemd starts the service again)`);
    process.exitCode = RESTART_EXIT_CODE;
    this.d.stop();
  }
}

/** Starts the bus for a kiosk; the caller stops it (Lifecycle). */
export function startRemoteService(d: KioskHostDeps & { transport?: RemoteTransport }): { service: RemoteService; host: KioskHost } {
  const host = new KioskHost(d);
  const transport = d.transport ?? mqttTransport(remoteConnectionSettings(d.config, d.deviceId), d.logger);
  const service = new RemoteService({ deviceId: d.deviceId, prefix: d.config.mqtt.topicPrefix, host, store: new RemoteStore(d.config.dataDir), transport, logger: d.logger });
  service.start();
  d.logger.info(`remote control on: requests on ${service.topics.requests}`);
  return { service, host };
}
