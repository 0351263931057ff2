/**
 * The kiosk's configuration: one schema, the single source of truth. Defaults live here; the TypeScript type is
 * inferred from it. File (YAML/JSON) < environment (EMOTION_KIOSK_*) < command-line flags.
 */
import { z } from 'zod';
import { redactUrl, splitCredentials } from '../util/index.js';
import { CONFIG_VERSION } from './migrate.js';

const positiveInt = z.number().int().positive();
const intIn = (min: number, max: number, unit: string) => z.number().int().min(min, `at least ${min} ${unit}`).max(max, `at most ${max} ${unit}`);

/**
 * mqtt.broker: `embedded`, `none`, or a broker URL that parses as written. A URL parser ends the host part at the
 * first # / ? in a password, so an unencoded one would make mqtt.js connect to the wrong host; the message says how to
 * write it and never quotes the password.
 */
const brokerSchema = z.string().superRefine((url, ctx) => {
  if (url === 'embedded' || url === 'none') return;
  const c = splitCredentials(url);
  const shown = redactUrl(url);
  if (!c.ok && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) ctx.addIssue({ code: 'custom', message: `expected mqtt://host:port, mqtts://host:port, embedded or none, not ${shown}` });
  else if (!c.ok) ctx.addIssue({ code: 'custom', message: `${shown} ${c.problem}, or put the credentials in mqtt.username / mqtt.password` });
  else if (!['mqtt', 'mqtts', 'ws', 'wss'].includes(c.scheme)) ctx.addIssue({ code: 'custom', message: `expected mqtt://host:port, mqtts://host:port, embedded or none, not ${shown}` });
});

/** An MQTT topic prefix (topic levels joined by /): no wildcards, not $-leading (broker-internal topics), no NUL, no empty level. */
const topicPrefixSchema = (what: string) =>
  z.string().superRefine((p, ctx) => {
    const problem =
      p.length === 0
        ? 'must not be empty'
        : /[+#]/.test(p)
          ? `"${p}" has an MQTT wildcard (+ or #): a prefix names topics, it cannot match them`
          : p.startsWith('$')
            ? `"${p}" starts with $: topics starting with $ belong to the broker ($SYS) and are not delivered to wildcard subscribers`
            : p.includes('\u0000')
              ? 'has a NUL character'
              : p.split('/').some((level) => level.length === 0)
                ? `"${p}" has an empty level (a leading or trailing /, or //): write levels joined by single slashes, e.g. shop/lobby`
                : Buffer.byteLength(p) > 1024
                  ? 'is longer than 1024 bytes'
                  : null;
    if (problem) ctx.addIssue({ code: 'custom', message: `${what} ${problem}` });
  });

export const configSchema = z
  .object({
    /** The config file format (src/config/migrate.ts upgrades older files when they are read). */
    version: z.literal(CONFIG_VERSION).default(CONFIG_VERSION),
    /**
     * Camera index (0), /dev/videoN, a file, an rtsp/http URL, a GStreamer pipeline (… ! appsink), `rpicam`, `raspistill`
     * (src/capture/source-spec.ts). Always a string once parsed: a YAML number (`source: 0`) is a camera index.
     */
    source: z
      .union([z.string().min(1), z.number().int().nonnegative().transform((index) => String(index))], {
        error: (issue) =>
          issue.input === undefined
            ? undefined
            : `expected a camera index (0, 1, ...), /dev/videoN, a video file, a stream URL, a GStreamer pipeline, rpicam or raspistill; got ${JSON.stringify(issue.input)}`,
      })
      .default('0'),
    camera: z
      .object({
        width: positiveInt.default(640),
        height: positiveInt.default(480),
        /** Frames per second asked of a camera; the rate of an image sequence (which has none of its own), e.g. 23.976. */
        fps: z.number().positive().max(1000, 'at most 1000 fps').default(15),
        /** Files: play at their own frame rate instead of as fast as possible. */
        realtime: z.boolean().default(false),
        /** Files: start over at the end (a looping kiosk demo). */
        loop: z.boolean().default(false),
        retry: z
          .object({
            initialDelayMs: positiveInt.default(500),
            maxDelayMs: positiveInt.default(30_000),
            /** Reconnect attempts after the source fails mid-run; 0 = forever. */
            maxAttempts: z.number().int().nonnegative().default(0),
          })
          .strict()
          .default({ initialDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 0 }),
      })
      .strict()
      .prefault({}),
    detection: z
      .object({
        /** Haar cascade XML; default: the one in haarcascades/. */
        cascade: z.string().optional(),
        // Tuned for >= 30 frames/s on one core (npm run bench: pipeline): vs OpenCV's usual 1.1 / 3 on the full frame it
        // finds faces on ~8% fewer frames of Megamind.avi; the tracker bridges the gaps.
        scaleFactor: z.number().gt(1).lt(2).default(1.15),
        minNeighbors: z.number().int().nonnegative().default(3),
        /** Smallest face, in source-frame pixels. */
        minSize: positiveInt.default(48),
        /** Detect on a grey copy this wide (0 = full size); boxes are mapped back. */
        downscaleWidth: z.number().int().nonnegative().default(256),
        /** Run the detector every Nth frame; between, faces keep their boxes (1 = every frame). */
        everyNthFrame: positiveInt.default(1),
      })
      .strict()
      .prefault({}),
    model: z
      .object({
        /** .onnx file with its manifest next to it; default: models/deep_emotion.int8.onnx. */
        path: z.string().optional(),
        intraOpThreads: positiveInt.default(1),
      })
      .strict()
      .prefault({}),
    tracking: z
      .object({
        /** Box overlap (IoU) needed to keep a face's id. */
        iouThreshold: z.number().min(0).max(1).default(0.3),
        /** A face must be detected in this many frames before it `appeared` (filters one-frame false detections). */
        confirmFrames: positiveInt.default(2),
        /** A face not seen for this long has left. */
        maxMissingMs: positiveInt.default(1000),
        /**
         * Exponential smoothing of scores with this time constant (ms, on the clip's or camera's clock): a frame dt ms
         * after the previous frame weighs 1 - exp(-dt / smoothingMs) (a frame the face was missed on does not count),
         * so a Pi at 5 frames/s follows a change as soon as a desktop at 15 (0 = no smoothing). 120: 0.43 per frame at
         * 15 frames/s (the old per-frame 0.35 was 155 ms), chosen on the validation clips (README: tracking).
         */
        smoothingMs: z.number().nonnegative().default(120),
        /** Per-frame smoothing instead: the weight of the newest frame, whatever the frame rate (1 = none). When set, it wins. */
        smoothingAlpha: z.number().gt(0).max(1).optional(),
        /**
         * The change rule (relative, with hysteresis): a new emotion takes over when its smoothed score has led the
         * reported one's by `changeMargin` (and reached `minConfidence`) for `minDwellMs` without a break. Defaults
         * chosen on evaluation clips from the FER2013 validation split (README: evaluation clips).
         */
        minDwellMs: z.number().int().nonnegative().default(500),
        /** An absolute floor for the new emotion's smoothed confidence (0 = none: the margin decides). */
        minConfidence: z.number().min(0).max(1).default(0),
        /**
         * How far (smoothed probability) the new emotion must lead the reported one, the whole dwell. 0.15: the least
         * that kept 0 changes on the validation clips' statics at 15, 5 and 3 frames/s, with the temperature-calibrated
         * (sharper) confidences as well as the raw ones; 0.2 missed low-confidence changes (README: tracking).
         */
        changeMargin: z.number().min(0).max(1).default(0.15),
      })
      .strict()
      .prefault({}),
    display: z
      .object({
        enabled: z.boolean().default(true),
        fullscreen: z.boolean().default(false),
        windowName: z.string().default('emotion-kiosk'),
      })
      .strict()
      .prefault({}),
    mqtt: z
      .object({
        /** mqtt[s]://host:port, `embedded` (in-process broker on localhost) or `none`. */
        broker: brokerSchema.default('embedded'),
        embeddedPort: z.number().int().min(1).max(65535).default(1883),
        /**
         * Default: the host name; a distribution default (raspberrypi, ubuntu, ...) gets a suffix from /etc/machine-id.
         * Letters, digits, _ and - only.
         */
        deviceId: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,128}$/, 'letters, digits, _ and - only (at most 128)')
          .optional(),
        topicPrefix: topicPrefixSchema('the topic prefix').default('emotion-kiosk'),
        username: z.string().optional(),
        password: z.string().optional(),
        /** PEM files for mqtts://. */
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        rejectUnauthorized: z.boolean().default(true),
        /** MQTT keepalive (a 16-bit field; 0, which turns off the broker's dead-client detection and so the last will, is not allowed). */
        keepaliveS: intIn(1, 65_535, 's').default(30),
        reconnectMaxDelayMs: intIn(100, 3_600_000, 'ms').default(30_000),
        /** Device stats every N seconds (5: the dashboard's figures stay live; one stats message costs ~40 ms CPU). */
        statsIntervalS: intIn(1, 86_400, 's').default(5),
        /** Emotion counts per window of N seconds. */
        countsWindowS: intIn(1, 86_400, 's').default(60),
        homeAssistant: z
          .object({
            enabled: z.boolean().default(true),
            discoveryPrefix: topicPrefixSchema('the discovery prefix').default('homeassistant'),
          })
          .strict()
          .prefault({}),
        outbox: z
          .object({
            /** Where events wait for the broker's PUBACK; default: <dataDir>/outbox. */
            dir: z.string().optional(),
            maxEvents: positiveInt.default(100_000),
            maxAgeHours: z.number().positive().default(24 * 7),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /**
     * The command bus (issue 15, README: fleet operations): requests on <prefix>/<device>/request/<command>. Off by
     * default: a kiosk takes no command from the network until its operator turns this on (and, on a shared broker,
     * sets up the ACL from the README). Never changeable remotely.
     */
    remote: z
      .object({
        enabled: z.boolean().default(false),
        /** `options` set (get is always allowed when enabled). */
        allowOptions: z.boolean().default(true),
        allowRestart: z.boolean().default(true),
        /** health_check says healthy: false when no frame arrived for this long. */
        stallMs: intIn(100, 3_600_000, 'ms').default(5_000),
        snapshot: z
          .object({
            /** Off by default: no image leaves the device unless its operator says so. */
            enabled: z.boolean().default(false),
            /** Every detected face blurred in the snapshot. */
            blurFaces: z.boolean().default(true),
            maxWidth: intIn(64, 640, 'px').default(640),
          })
          .strict()
          .prefault({}),
        /** Ed25519 public key file (the .pub of emotion-kiosk fleet keygen): model updates must be signed by it. None: updates refused. */
        modelKey: z.string().optional(),
        /** After a model switch: back to the previous model by itself when fps halves or classification fails within this window. */
        rollbackWindowS: intIn(10, 86_400, 's').default(600),
        /** Largest model update accepted over MQTT (the broker's message_size_limit must allow it plus ~40%, base64). */
        maxModelBytes: intIn(1024, 64 * 1024 * 1024, 'bytes').default(16 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    /** Writable state (outbox, …). */
    dataDir: z.string().default('./data'),
    logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  })
  .strict();

export type KioskConfig = z.infer<typeof configSchema>;
export type KioskConfigInput = z.input<typeof configSchema>;
