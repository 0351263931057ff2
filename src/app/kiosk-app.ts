/**
 * The kiosk application: the one place that starts and stops a kiosk run. Each resource (config, outbox lock check,
 * model, detector, camera, display, telemetry with its transports, console events, systemd watchdog, signal
 * handlers) is started through one Lifecycle, which unwinds whatever started, in reverse, when a later start fails or
 * the run ends; a start that fails for a reason the operator can fix is a StartupError (exit 2, no stack).
 * src/cli/run.ts only maps flags to config and prints the summary.
 */
import { randomUUID } from 'node:crypto';
import { ResilientFrameSource, createFrameSource, SourceError } from '../capture/index.js';
import { ConfigError, loadConfig, type ConfigInputs, type KioskConfig } from '../config/index.js';
import { DashboardTransport, routeLogLine } from '../dashboard/index.js';
import { HaarFaceDetector } from '../detection/index.js';
import { KioskWindow, WindowDisplay } from '../display/index.js';
import { createConsoleSink, type EventSink } from '../events/index.js';
import type { KioskRunSummary } from './run-summary.js';
import { EmotionClassifier } from '../model/index.js';
import { assertOutboxFree, createMqttTransport, OutboxLockedError, resolveDeviceId } from '../mqtt/index.js';
import { FaceTracker, KioskPipeline, type DisplayPort } from '../pipeline/index.js';
import { localDeviceIdentity, createWatchdogSink } from '../system/index.js';
import { TelemetryProducer, type TelemetryTransport } from '../telemetry/index.js';
import { createLogger, type Logger, defaultCascadePath, defaultModelPath } from '../util/index.js';
import { FrameHealthSink, PausableDetector, startRemoteService, switchableModels, withRemoteOptions, snapshotJpeg } from '../remote/index.js';
import { Lifecycle, StartupError } from './lifecycle.js';

export { StartupError } from './lifecycle.js';

export interface KioskRunOptions {
  /** Config file and flag values (by dotted config path). */
  config: Pick<ConfigInputs, 'file' | 'flags'>;
  /** The terminal dashboard in this process instead of events on stdout. */
  dashboard?: boolean;
  /** Events on stdout (ignored with the dashboard). */
  events: 'text' | 'json' | 'none';
  maxFrames?: number;
  /** Environment (NOTIFY_SOCKET for the systemd watchdog); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Runs the kiosk until the source ends, max frames, the quit key or SIGINT/SIGTERM; everything started is stopped. */
export async function runKioskApp(o: KioskRunOptions): Promise<KioskRunSummary> {
  let config: KioskConfig;
  let configNotes: string[];
  try {
    ({ config, notes: configNotes } = loadConfig({ ...o.config }));
  } catch (err) {
    if (err instanceof ConfigError) throw new StartupError(err.message);
    throw err;
  }
  try {
    // before the camera and the model: a second kiosk beside the service must hear that the outbox is in use
    await assertOutboxFree(config);
  } catch (err) {
    if (err instanceof OutboxLockedError) throw new StartupError(err.message);
    throw err;
  }
  // With the dashboard on, log lines go to its panel instead of scribbling over the terminal.
  const logger = o.dashboard ? createLogger(config.logLevel, 'kiosk', routeLogLine) : createLogger(config.logLevel, 'kiosk');
  if (config.mqtt.deviceId === undefined && config.mqtt.broker !== 'none') {
    // The default id: the host name, or one derived from /etc/machine-id when the host name is a distribution default.
    const identity = localDeviceIdentity();
    (identity.defaultHostname && identity.how === 'hostname' ? logger.warn : logger.info).call(logger, identity.note);
  }
  for (const note of configNotes) logger.info(note);
  config = withRemoteOptions(config, logger); // options set over MQTT (remote.enabled), kept in the data dir

  return Lifecycle.run(logger.child('lifecycle'), (life) => startAndRun(life, config, o, logger));
}

async function startAndRun(life: Lifecycle, config: KioskConfig, o: KioskRunOptions, logger: Logger): Promise<KioskRunSummary> {
  const always = () => true;
  const modelPath = config.model.path ?? defaultModelPath;
  const classifier = await life.start(
    'model',
    () => EmotionClassifier.load(modelPath, { intraOpThreads: config.model.intraOpThreads }),
    (c) => c.close(),
    always,
  );
  const manifest = classifier.manifest;
  if (manifest.untrained) logger.warn(`model ${modelPath} has UNTRAINED weights (a test network): its emotions are meaningless`);
  // mutable copies: options set over MQTT change them live (src/remote/kiosk-host.ts); the wrapper pauses detection
  const live = { tracking: { ...config.tracking }, detection: { ...config.detection } };
  const detector = new PausableDetector(
    await life.start('face detector', () => HaarFaceDetector.load(config.detection.cascade ?? defaultCascadePath, live.detection), () => {}, always),
    snapshotJpeg,
  );

  const source = await life.start(
    'camera',
    async () => {
      // prefetch: the next frame is read (decoded) while this one is detected and classified (issue 14: use the cores)
      const s = new ResilientFrameSource(
        () => createFrameSource(config.source, config.camera, logger.child('camera'), { prefetch: true }),
        config.camera.retry,
        logger.child('camera'),
      );
      try {
        await s.open();
      } catch (err) {
        await s.close().catch(() => undefined);
        throw err;
      }
      return s;
    },
    (s) => s.close(),
    (err) => err instanceof SourceError,
  );

  let display: DisplayPort | undefined;
  if (config.display.enabled && !o.dashboard) {
    display = await life.start(
      'display',
      () => new WindowDisplay(new KioskWindow({ windowName: config.display.windowName, fullscreen: config.display.fullscreen, logger: logger.child('display') })),
      (d) => d.close(),
      always,
    );
  }

  const modelRef = { name: manifest.name, version: manifest.version };
  // model/update switches models between two frames (src/remote/model-switch.ts); modelRef follows in place
  const models = config.remote.enabled && config.mqtt.broker !== 'none' ? switchableModels(classifier, modelPath, modelRef, config) : undefined;
  if (models) life.defer('updated models', () => models.classifier.close());
  const abort = new AbortController();
  const sinks: EventSink[] = [];

  // One telemetry producer; its transports: the dashboard in this process and/or MQTT.
  const deviceId = resolveDeviceId(config);
  const mqtt = createMqttTransport(config, { logger: logger.child('mqtt'), model: modelRef });
  const transports: TelemetryTransport[] = [];
  if (o.dashboard) transports.push(new DashboardTransport(deviceId, { logger, onQuit: () => abort.abort(), mqttOff: mqtt === null }));
  if (mqtt) transports.push(mqtt);
  if (transports.length > 0) {
    const telemetry = new TelemetryProducer(
      { deviceId, model: modelRef, countsWindowS: config.mqtt.countsWindowS, statsIntervalS: config.mqtt.statsIntervalS, logger, camera: () => source.cameraStats() },
      transports,
    );
    // Any failure here is the operator's to fix (a CA file, a port in use, an outbox another process took).
    sinks.push(await life.start('telemetry', async () => (await telemetry.start(), telemetry), (t) => t.stop(), (err) => !(err instanceof TypeError)));
  }
  if (!o.dashboard && o.events !== 'none') sinks.push(createConsoleSink(process.stdout, o.events));
  if (config.remote.enabled && mqtt) {
    const frames = new FrameHealthSink();
    sinks.push(frames);
    const ctx = { config, deviceId, model: modelRef, live, detector, frames, models, broker: () => mqtt.status(), stop: () => abort.abort(), logger: logger.child('remote') };
    const remote = await life.start('remote control', () => startRemoteService(ctx), (r) => r.stop(), always);
    if (models) models.classifier.onState = () => void remote.service.publishModelState();
  }

  // Under systemd (Type=notify): READY=1 after the first frame, WATCHDOG=1 while frames arrive, STATUS=.
  const watchdog = createWatchdogSink(o.env ?? process.env, logger.child('systemd'));
  if (watchdog) sinks.push(await life.start('systemd watchdog', async () => (await watchdog.start(), watchdog), (w) => w.stop(), always));

  const onSignal = (sig: NodeJS.Signals) => {
    logger.info(`${sig}: stopping`);
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  life.defer('signal handlers', () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });

  const pipeline = new KioskPipeline({
    source,
    detector,
    classifier: models?.classifier ?? classifier,
    tracker: new FaceTracker(live.tracking, modelRef, randomUUID),
    sinks,
    display,
    logger,
    detectEveryNthFrame: config.detection.everyNthFrame,
  });
  logger.info(`running on ${source.description} with ${manifest.name} ${manifest.version}`);
  const result = await pipeline.run({ maxFrames: o.maxFrames, signal: abort.signal });
  return {
    ...result,
    model: { name: manifest.name, version: manifest.version, file: modelPath, untrained: manifest.untrained },
    detection: {
      scaleFactor: config.detection.scaleFactor,
      minNeighbors: config.detection.minNeighbors,
      minSize: config.detection.minSize,
      downscaleWidth: config.detection.downscaleWidth,
      everyNthFrame: config.detection.everyNthFrame,
    },
  };
}

