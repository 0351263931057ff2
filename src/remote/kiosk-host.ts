/**
 * The RemoteHost of a running kiosk (src/app/kiosk-app.ts starts it as one Lifecycle resource when remote.enabled):
 * - detection pause: a detector wrapper that finds no faces while paused (capture, display and stats go on; faces in
 *   view then leave after tracking.maxMissingMs, one `left` event each, and no event follows until resumed);
 * - options applied live where the kiosk reads them per frame (the tracker's and the detector's settings: they get
 *   mutable copies of their config sections); everything else is persisted and says restartRequired;
 * - health from the frames (FrameHealthSink), the MQTT transport's status and the model;
 * - restart: a clean stop with exit code 75 (EX_TEMPFAIL), which systemd's Restart=on-failure brings back.
 */
import type { KioskConfig } from '../config/index.js';
import type { Box } from '../detection/index.js';
import type { ModelRef } from '../events/index.js';
import type { HealthData, ModelUpdateParams } from '../contract/index.js';
import { type Logger, defaultModelPath } from '../util/index.js';
import { checkCandidate, receiveModelUpdate } from './model-receive.js';
import { EmotionClassifier, manifestPathFor } from '../model/index.js';
import type { RemoteHost } from './bus.js';
import { FrameHealthSink, RemoteService, mqttTransport, remoteConnectionSettings, type RemoteTransport } from './service.js';
import { RemoteStore, applyStoredOptions, writeJsonAtomic } from './store.js';
import { RequestError } from './bus.js';
import { SwitchableClassifier as SwitchableClassifierImpl, type ModelState, type SwitchableClassifier, type SwitchableModel } from './model-switch.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** <dataDir>/models/active.json: the model a verified update switched to (used at the next start). */
const activeFile = (dataDir: string) => path.join(dataDir, 'models', 'active.json');

/** The exit code of a remote restart: not 0, so that systemd's Restart=on-failure starts the service again. */
export const RESTART_EXIT_CODE = 75;

export interface DetectorLike<M> {
  detectAndCrop(mat: M, cropSize: number): Array<{ box: Box; crop: Uint8Array }>;
}

export type SnapshotEncoder<M> = (frame: M, faces: Box[], o: { blurFaces: boolean; maxWidth: number }) => Buffer;

/**
 * The detector as the pipeline sees it: no faces while paused; and the snapshot tap: a requested snapshot is taken
 * from the next frame the pipeline detects on, with the faces found in it (detected even while paused, to blur them).
 */
export class PausableDetector<M> implements DetectorLike<M> {
  enabled = true;
  private pending: { o: { blurFaces: boolean; maxWidth: number }; resolve: (b: Buffer | null) => void; reject: (e: unknown) => void }[] = [];
  constructor(
    private readonly inner: DetectorLike<M>,
    private readonly encode?: SnapshotEncoder<M>,
  ) {}
  detectAndCrop(mat: M, cropSize: number): Array<{ box: Box; crop: Uint8Array }> {
    if (this.pending.length === 0) return this.enabled ? this.inner.detectAndCrop(mat, cropSize) : [];
    const faces = this.inner.detectAndCrop(mat, cropSize);
    const waiting = this.pending;
    this.pending = [];
    for (const w of waiting) {
      try {
        w.resolve(this.encode!(mat, faces.map((f) => f.box), w.o));
      } catch (err) {
        w.reject(err);
      }
    }
    return this.enabled ? faces : [];
  }
  /** The next detected frame as a JPEG; null when none comes within `timeoutMs` (camera stalled). */
  snapshot(o: { blurFaces: boolean; maxWidth: number }, timeoutMs = 10_000): Promise<Buffer | null> {
    if (!this.encode) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const entry = {
        o,
        resolve: (b: Buffer | null) => (clearTimeout(timer), resolve(b)),
        reject: (e: unknown) => (clearTimeout(timer), reject(e)),
      };
      const timer = setTimeout(() => {
        this.pending = this.pending.filter((p) => p !== entry);
        resolve(null);
      }, timeoutMs);
      this.pending.push(entry);
    });
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
interface ActiveModel {
  path: string;
  previous?: string;
  at: number;
  /** Starts with this model since the switch that did not end in a clean stop. */
  starts?: number;
  rolledBack?: string;
}

function readActive(dataDir: string): ActiveModel | null {
  try {
    const a = JSON.parse(readFileSync(activeFile(dataDir), 'utf8')) as ActiveModel;
    return typeof a.path === 'string' && typeof a.at === 'number' ? a : null;
  } catch {
    return null;
  }
}

/** Why this start returned to the previous model (the kiosk crashed on start with the new one), for the model state. */
let startRollbackReason: { reason: string; from: string | null } | null = null;
/** This start is on a switched-to model inside its rollback window: verifying until then. */
let startVerifying: { until: number; previous: string | null } | null = null;

function manifestVersion(onnx: string): string | null {
  try {
    const v = (JSON.parse(readFileSync(manifestPathFor(onnx), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * The model a start uses after model/update: the switched-to one, unless the last start with it, within
 * remote.rollbackWindowS of the switch, never reached a clean stop (a crash on start): then the previous one.
 */
export function chooseStartModel(
  config: KioskConfig,
  now: number,
): { path: string | null; note: string | null; rolledBack: string | null; rolledBackFrom?: string | null; verifying?: { until: number; previous: string | null } } {
  const a = readActive(config.dataDir);
  if (!a || !existsSync(a.path)) return { path: null, note: null, rolledBack: null };
  const inWindow = now - a.at <= config.remote.rollbackWindowS * 1000;
  if (inWindow && a.previous && (a.starts ?? 0) >= 1 && existsSync(a.previous)) {
    const reason = `the kiosk did not stop cleanly after starting with ${a.path} (a crash on start): back to ${a.previous}`;
    writeJsonAtomic(activeFile(config.dataDir), { path: a.previous, at: now, rolledBack: reason });
    return { path: a.previous, note: reason, rolledBack: reason, rolledBackFrom: manifestVersion(a.path) };
  }
  if (inWindow && a.previous) writeJsonAtomic(activeFile(config.dataDir), { ...a, starts: (a.starts ?? 0) + 1 });
  return {
    path: a.path,
    note: `model ${a.path} (switched to by a verified model/update; ${activeFile(config.dataDir)})`,
    rolledBack: null,
    ...(inWindow && a.previous ? { verifying: { until: a.at + config.remote.rollbackWindowS * 1000, previous: manifestVersion(a.previous) } } : {}),
  };
}

/** A clean stop: the model in use did not crash on start. */
export function markCleanStop(dataDir: string): void {
  const a = readActive(dataDir);
  if (a && (a.starts ?? 0) > 0) writeJsonAtomic(activeFile(dataDir), { ...a, starts: 0 });
}

export function withRemoteOptions(config: KioskConfig, logger: Logger, now = Date.now()): KioskConfig {
  if (!config.remote.enabled) return config;
  const { config: next, notes } = applyStoredOptions(config, new RemoteStore(config.dataDir));
  for (const n of notes) logger.info(n);
  const start = chooseStartModel(config, now);
  startRollbackReason = start.rolledBack ? { reason: start.rolledBack, from: start.rolledBackFrom ?? null } : null;
  startVerifying = start.verifying ?? null;
  if (start.note) (start.rolledBack ? logger.warn : logger.info).call(logger, start.note);
  return start.path ? { ...next, model: { ...next.model, path: start.path } } : next;
}

/** After a switch: roll back when the fps stays below half of what it was for `samples` checks in a row. */
export class FpsWatch {
  private low = 0;
  constructor(
    readonly before: number,
    private readonly samples = 3,
  ) {}
  /** True when it is time to roll back. */
  sample(fps: number): boolean {
    if (this.before <= 0) return false;
    this.low = fps < this.before / 2 ? this.low + 1 : 0;
    return this.low >= this.samples;
  }
}

export interface KioskHostDeps {
  config: KioskConfig;
  deviceId: string;
  model: ModelRef;
  /** The live objects the tracker and the detector read (mutated in place on a live change). */
  live: { tracking: KioskConfig['tracking']; detection: KioskConfig['detection'] };
  detector: Pick<PausableDetector<unknown>, 'enabled' | 'snapshot'>;
  frames: FrameHealthSink;
  broker: () => { connected: boolean; pending: number; dropped: number } | null;
  /** Stops the kiosk (the run's abort). */
  stop: () => void;
  /** The switchable classifier and how to load a model into a second session (model/update); absent: no switch. */
  models?: { classifier: SwitchableClassifier; load: (onnxPath: string) => Promise<SwitchableModel> };
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
  snapshot(o: { blurFaces: boolean; maxWidth: number }): Promise<Buffer | null> {
    return this.d.detector.snapshot(o);
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
  modelState(): ModelState | undefined {
    return this.d.models?.classifier.state;
  }
  async modelRollback(): Promise<Record<string, unknown>> {
    const m = this.d.models;
    if (!m || !m.classifier.hasPrevious) throw new RequestError('no previous model to return to on this device');
    m.classifier.rollback('requested over MQTT');
    writeJsonAtomic(activeFile(this.cfg.dataDir), { path: m.classifier.currentPath, at: this.now() });
    return { ...m.classifier.state };
  }
  async modelUpdate(params: unknown): Promise<Record<string, unknown>> {
    const verified = await this.verifyModelUpdate(params);
    const m = this.d.models;
    if (!m) return verified;
    const before = m.classifier.currentPath;
    const next = await m.load(String(verified.path));
    const switched = await Promise.race([m.classifier.switchTo(next).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref())]);
    if (!switched) throw new RequestError('verified, but the pipeline took no frame within 30 s to switch on (camera stalled?): the current model keeps serving');
    writeJsonAtomic(activeFile(this.cfg.dataDir), { path: verified.path, previous: before, at: this.now(), starts: 0 });
    this.watchFps();
    this.d.logger.info(`model switched to ${String(verified.version)} over MQTT (previous ${m.classifier.state.previous ?? '-'} kept for a rollback)`);
    return { ...verified, status: m.classifier.state.status, active: true, state: m.classifier.state };
  }
  private async verifyModelUpdate(params: unknown): Promise<Record<string, unknown>> {
    const r = this.cfg.remote;
    this.d.logger.info(`model/update: ${(params as ModelUpdateParams).size} bytes received; checking size, sha256, signature, manifest, then the reference faces`);
    return receiveModelUpdate(params as ModelUpdateParams, {
      modelKeyFile: r.modelKey!,
      dataDir: this.cfg.dataDir,
      maxBytes: r.maxModelBytes,
      // a second onnxruntime session with the manifest checks and the reference faces, while the current model keeps serving
      check: (onnx, reference) => checkCandidate(onnx, this.d.models?.classifier.currentPath ?? this.cfg.model.path ?? defaultModelPath, reference),
    });
  }
  private fpsTimer: NodeJS.Timeout | null = null;
  /** Within the rollback window after a switch: back to the previous model when the fps halves (3 checks, 2 s apart). */
  private watchFps(): void {
    const m = this.d.models!;
    if (this.fpsTimer) clearInterval(this.fpsTimer);
    const watch = new FpsWatch(this.d.frames.read(this.cfg.remote.stallMs).fps);
    const until = this.now() + this.cfg.remote.rollbackWindowS * 1000;
    this.fpsTimer = setInterval(() => {
      const fps = this.d.frames.read(this.cfg.remote.stallMs).fps;
      if (this.now() > until || m.classifier.state.status !== 'verifying') {
        clearInterval(this.fpsTimer!);
        this.fpsTimer = null;
      } else if (watch.sample(fps)) {
        clearInterval(this.fpsTimer!);
        this.fpsTimer = null;
        m.classifier.rollback(`fps fell from ${watch.before} to ${fps} after the switch`);
        writeJsonAtomic(activeFile(this.cfg.dataDir), { path: m.classifier.currentPath, at: this.now() });
        this.d.logger.warn(`model rolled back by itself: ${m.classifier.state.reason}`);
      }
    }, 2_000);
    this.fpsTimer.unref();
  }
  stopWatching(): void {
    if (this.fpsTimer) clearInterval(this.fpsTimer);
    this.fpsTimer = null;
  }
  restart(): void {
    this.d.logger.info(`restart requested over MQTT: stopping (exit ${RESTART_EXIT_CODE}; systemd starts the service again)`);
    process.exitCode = RESTART_EXIT_CODE;
    this.d.stop();
  }
}

/** Starts the bus for a kiosk; the caller stops it (Lifecycle). */
export function startRemoteService(d: KioskHostDeps & { transport?: RemoteTransport }): { service: RemoteService; host: KioskHost; stop: () => Promise<void> } {
  const host = new KioskHost(d);
  const transport = d.transport ?? mqttTransport(remoteConnectionSettings(d.config, d.deviceId), d.logger);
  const service = new RemoteService({ deviceId: d.deviceId, prefix: d.config.mqtt.topicPrefix, host, store: new RemoteStore(d.config.dataDir), transport, logger: d.logger });
  service.start();
  d.logger.info(`remote control on: requests on ${service.topics.requests}`);
  // verifying -> active when the rollback window closes (the classifier's onState publishes the retained state)
  const settle = d.models ? setInterval(() => d.models!.classifier.settle(), 1_000) : null;
  settle?.unref();
  const stop = async () => {
    if (settle) clearInterval(settle);
    host.stopWatching();
    await service.stop();
    markCleanStop(d.config.dataDir); // this start with the model in use did not crash
  };
  return { service, host, stop };
}

/**
 * The kiosk's model as a switchable one (model/update). The model the kiosk started with stays owned by its
 * Lifecycle step (its close here does nothing); models loaded by updates are closed by the switcher.
 */
export function switchableModels(
  initial: EmotionClassifier,
  initialPath: string,
  shared: ModelRef,
  config: KioskConfig,
): { classifier: SwitchableClassifier; load: (onnxPath: string) => Promise<SwitchableModel> } {
  const wrap = (c: EmotionClassifier, file: string, owned: boolean): SwitchableModel => ({
    get inputSize() {
      return c.inputSize;
    },
    classify: (crops) => c.classify(crops),
    close: async () => {
      if (owned) await c.close();
    },
    ref: { name: c.manifest.name, version: c.manifest.version },
    path: file,
  });
  const classifier = new SwitchableClassifierImpl(wrap(initial, initialPath, false), shared, { windowMs: config.remote.rollbackWindowS * 1000 });
  if (startRollbackReason) classifier.markRolledBack(startRollbackReason.reason, startRollbackReason.from);
  else if (startVerifying) classifier.markVerifying(startVerifying.until, startVerifying.previous);
  return { classifier, load: async (file) => wrap(await EmotionClassifier.load(file, { intraOpThreads: config.model.intraOpThreads }), file, true) };
}
