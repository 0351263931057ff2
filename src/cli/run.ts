/** `emotion-kiosk run`: the kiosk. Wires config, camera, detector, model, tracker, sinks and display together. */
import { randomUUID } from 'node:crypto';
import { COMMANDS } from './commands.js';
import { InvalidArgumentError, type Command } from 'commander';
import { ResilientFrameSource } from '../capture/resilient-source.js';
import { createFrameSource } from '../capture/create-source.js';
import { SourceError } from '../capture/types.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { createInProcessDashboard, routeLogLine } from '../dashboard/index.js';
import type { KioskConfig } from '../config/schema.js';
import { HaarFaceDetector } from '../detection/haar-detector.js';
import { drawOverlay } from '../display/overlay.js';
import { KioskWindow } from '../display/kiosk-window.js';
import { createConsoleSink } from '../events/console-sink.js';
import { formatSummary, writeSummaryJson, type KioskRunSummary } from '../events/summary.js';
import type { EventSink } from '../events/types.js';
import { EmotionClassifier } from '../model/emotion-classifier.js';
import { assertOutboxFree, createMqttSink, OutboxLockedError, type MqttSink } from '../mqtt/index.js';
import { FaceTracker } from '../pipeline/face-tracker.js';
import { KioskPipeline, type DisplayPort } from '../pipeline/kiosk-pipeline.js';
import { localDeviceIdentity } from '../system/identity.js';
import { createWatchdogSink } from '../system/watchdog.js';
import { createLogger, type Logger } from '../util/logger.js';
import { defaultCascadePath, defaultModelPath } from '../util/paths.js';
import { parsePositiveInt } from './evaluate.js';

export interface RunFlags {
  config?: string;
  source?: string;
  headless?: boolean;
  fullscreen?: boolean;
  maxFrames?: number;
  summaryJson?: string;
  model?: string;
  cascade?: string;
  broker?: string;
  deviceId?: string;
  topicPrefix?: string;
  dashboard?: boolean;
  events: 'text' | 'json' | 'none';
  realtime?: boolean;
  loop?: boolean;
  logLevel?: string;
}

/** An error that means "this run cannot start": printed without a stack, exit code 2. */
export class StartupError extends Error {}

function flagsToConfig(f: RunFlags): Record<string, string | number | boolean | undefined> {
  return {
    source: f.source,
    'display.enabled': f.headless ? false : undefined,
    'display.fullscreen': f.fullscreen,
    'model.path': f.model,
    'detection.cascade': f.cascade,
    'mqtt.broker': f.broker,
    'mqtt.deviceId': f.deviceId,
    'mqtt.topicPrefix': f.topicPrefix,
    'camera.realtime': f.realtime,
    'camera.loop': f.loop,
    logLevel: f.logLevel,
  };
}

class WindowDisplay implements DisplayPort {
  constructor(private readonly window: KioskWindow) {}
  show(frame: Parameters<DisplayPort['show']>[0], faces: Parameters<DisplayPort['show']>[1], info: { fps: number }) {
    drawOverlay(frame.mat, faces, info);
    return this.window.show(frame.mat);
  }
  close() {
    this.window.close();
  }
}

/** Console or dashboard, and MQTT; started in order. `onQuit`: the dashboard's q key stops the kiosk. */
async function startSinks(config: KioskConfig, flags: RunFlags, logger: Logger, model: { name: string; version: string }, onQuit: () => void): Promise<EventSink[]> {
  const mqtt: MqttSink | null = await createMqttSink(config, { logger: logger.child('mqtt'), model });
  const sinks: EventSink[] = [];
  if (flags.dashboard) {
    sinks.push(
      createInProcessDashboard(config, {
        logger,
        onQuit,
        ...(mqtt
          ? {
              broker: () => {
                const s = mqtt.status();
                return { connected: s.connected, pending: s.pending, dropped: s.dropped, unstored: s.unstored };
              },
            }
          : {}),
      }),
    );
  } else if (flags.events !== 'none') {
    sinks.push(createConsoleSink(process.stdout, flags.events));
  }
  if (mqtt) sinks.push(mqtt);
  for (const sink of sinks) await sink.start?.();
  return sinks;
}

export async function runKiosk(flags: RunFlags): Promise<KioskRunSummary> {
  let config: KioskConfig;
  let configNotes: string[];
  try {
    ({ config, notes: configNotes } = loadConfig({ file: flags.config, flags: flagsToConfig(flags) }));
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
  const logger = flags.dashboard ? createLogger(config.logLevel, 'kiosk', routeLogLine) : createLogger(config.logLevel, 'kiosk');
  if (config.mqtt.deviceId === undefined && config.mqtt.broker !== 'none') {
    // The default id: the host name, or one derived from /etc/machine-id when the host name is a distribution default.
    const identity = localDeviceIdentity();
    (identity.defaultHostname && identity.how === 'hostname' ? logger.warn : logger.info).call(logger, identity.note);
  }
  for (const note of configNotes) logger.info(note);

  const modelPath = config.model.path ?? defaultModelPath;
  let classifier: EmotionClassifier;
  try {
    classifier = await EmotionClassifier.load(modelPath, { intraOpThreads: config.model.intraOpThreads });
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  const manifest = classifier.manifest;
  if (manifest.untrained) logger.warn(`model ${modelPath} has UNTRAINED weights (a test network): its emotions are meaningless`);
  const detector = (() => {
    try {
      return HaarFaceDetector.load(config.detection.cascade ?? defaultCascadePath, config.detection);
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
  })();

  let source: ResilientFrameSource;
  try {
    source = new ResilientFrameSource(
      () => createFrameSource(config.source, config.camera, logger.child('camera')),
      config.camera.retry,
      logger.child('camera'),
    );
    await source.open();
  } catch (err) {
    await classifier.close();
    throw err instanceof SourceError ? new StartupError(err.message) : err;
  }

  let display: DisplayPort | undefined;
  if (config.display.enabled && !flags.dashboard) {
    try {
      display = new WindowDisplay(new KioskWindow({ windowName: config.display.windowName, fullscreen: config.display.fullscreen, logger: logger.child('display') }));
    } catch (err) {
      await source.close();
      await classifier.close();
      throw new StartupError((err as Error).message);
    }
  }

  const modelRef = { name: manifest.name, version: manifest.version };
  const abort = new AbortController();
  const sinks = await startSinks(config, flags, logger, modelRef, () => abort.abort()).catch(async (err: unknown) => {
    if (!(err instanceof OutboxLockedError)) throw err; // another process took the outbox since the check above
    await source.close();
    await classifier.close();
    throw new StartupError(err.message);
  });
  // Under systemd (Type=notify): READY=1 after the first frame, WATCHDOG=1 while frames arrive, STATUS=.
  const watchdog = createWatchdogSink(process.env, logger.child('systemd'));
  if (watchdog) {
    await watchdog.start();
    sinks.push(watchdog);
  }
  const tracker = new FaceTracker(config.tracking, modelRef, randomUUID);
  const pipeline = new KioskPipeline({
    source,
    detector,
    classifier,
    tracker,
    sinks,
    display,
    logger,
    detectEveryNthFrame: config.detection.everyNthFrame,
  });

  const onSignal = (sig: NodeJS.Signals) => {
    logger.info(`${sig}: stopping`);
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  logger.info(`running on ${source.description} with ${manifest.name} ${manifest.version}`);
  try {
    const result = await pipeline.run({ maxFrames: flags.maxFrames, signal: abort.signal });
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
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    display?.close();
    for (const sink of sinks) {
      try {
        await sink.stop?.();
      } catch (err) {
        logger.error(`stopping ${sink.name}: ${(err as Error).message}`);
      }
    }
    await source.close();
    await classifier.close();
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(COMMANDS.run.summary)
    .option('-c, --config <file>', 'config file, YAML or JSON (default: $EMOTION_KIOSK_CONFIG)')
    .option('-s, --source <spec>', 'camera index, /dev/videoN, video file, rtsp/http URL, GStreamer pipeline, rpicam or raspistill')
    .option('--headless', 'no display window')
    .option('--fullscreen', 'display window full screen')
    .option('--max-frames <n>', 'stop after n frames', (v) => parsePositiveInt(v, '--max-frames'))
    .option('--summary-json <file>', 'write the run summary (frames, faces, events, fps, latencies) as JSON')
    .option('--model <file.onnx>', 'ONNX model with its manifest (default: models/deep_emotion.int8.onnx)')
    .option('--cascade <file.xml>', 'Haar cascade (default: haarcascades/haarcascade_frontalface_default.xml)')
    .option('--broker <url>', 'mqtt[s]://host:port, embedded or none')
    .option('--device-id <id>', 'MQTT device id (default: the host name; with a default one like raspberrypi, plus a suffix from /etc/machine-id)')
    .option('--topic-prefix <prefix>', 'MQTT topic prefix (default: emotion-kiosk)')
    .option('--dashboard', 'show the terminal dashboard in this process (q quits the kiosk)')
    .option('--events <format>', 'events on stdout: text, json (one per line) or none', (v) => {
      if (!['text', 'json', 'none'].includes(v)) throw new InvalidArgumentError('expected text, json or none');
      return v;
    }, 'text')
    .option('--realtime', 'video files: play at their own frame rate')
    .option('--loop', 'video files: start over at the end')
    .option('--log-level <level>', 'error, warn, info or debug')
    .action(async (flags: RunFlags) => {
      try {
        const summary = await runKiosk(flags);
        if (flags.summaryJson) writeSummaryJson(flags.summaryJson, summary);
        if (!flags.dashboard) process.stderr.write(`\n${formatSummary(summary)}\n`);
      } catch (err) {
        if (err instanceof StartupError) {
          process.stderr.write(`emotion-kiosk run: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
    });
}
