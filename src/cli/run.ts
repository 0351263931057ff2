/** `emotion-kiosk run`: the command line of the kiosk (flags -> config); src/app/kiosk-app.ts starts, runs and stops it. */
import { InvalidArgumentError, type Command } from 'commander';
import { runKioskApp, StartupError, formatSummary, writeSummaryJson, type KioskRunSummary } from '../app/index.js';
import { SUMMARIES } from './summaries.js';
import { parsePositiveInt } from './flag-values.js';


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

function flagsToConfig(f: RunFlags): Record<string, string | number | boolean | undefined> {
  return {
    source: f.source,
    // --fullscreen asks for the window, also over a config that turns it off (the device's: display.enabled false).
    'display.enabled': f.headless ? false : f.fullscreen ? true : undefined,
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

/** Runs the kiosk with these flags (src/app/kiosk-app.ts owns the run). */
export function runKiosk(flags: RunFlags): Promise<KioskRunSummary> {
  return runKioskApp({
    config: { file: flags.config, flags: flagsToConfig(flags) },
    events: flags.events,
    ...(flags.dashboard ? { dashboard: true } : {}),
    ...(flags.maxFrames !== undefined ? { maxFrames: flags.maxFrames } : {}),
  });
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(SUMMARIES.run)
    .option('-c, --config <file>', 'config file, YAML or JSON (default: $EMOTION_KIOSK_CONFIG)')
    .option('-s, --source <spec>', 'camera index, /dev/videoN, video file, rtsp/http URL, GStreamer pipeline, rpicam or raspistill')
    .option('--headless', 'no display window')
    .option('--fullscreen', 'the display window, full screen (also when the config has display.enabled: false)')
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
