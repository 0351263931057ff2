/**
 * The kiosk's configuration: one schema, the single source of truth. Defaults live here; the TypeScript type is
 * inferred from it. File (YAML/JSON) < environment (EMOTION_KIOSK_*) < command-line flags.
 */
import { z } from 'zod';
import { CONFIG_VERSION } from './migrate.js';

const positiveInt = z.number().int().positive();

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
        fps: positiveInt.default(15),
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
        /** Exponential smoothing of scores: weight of the newest frame (1 = no smoothing). */
        smoothingAlpha: z.number().gt(0).max(1).default(0.35),
        /** A new emotion must hold this long before an emotion_changed event. */
        minDwellMs: z.number().int().nonnegative().default(800),
        /** …and reach this smoothed confidence. */
        minConfidence: z.number().min(0).max(1).default(0.4),
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
        broker: z
          .string()
          .regex(/^(embedded|none|mqtts?:\/\/.+|wss?:\/\/.+)$/, 'expected mqtt://host:port, mqtts://host:port, embedded or none')
          .default('embedded'),
        embeddedPort: z.number().int().min(1).max(65535).default(1883),
        /** Default: the host name. Letters, digits, _ and - only. */
        deviceId: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
          .optional(),
        topicPrefix: z
          .string()
          .regex(/^[^#+]+$/, 'no MQTT wildcards (# +)')
          .default('emotion-kiosk'),
        username: z.string().optional(),
        password: z.string().optional(),
        /** PEM files for mqtts://. */
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        rejectUnauthorized: z.boolean().default(true),
        keepaliveS: positiveInt.default(30),
        reconnectMaxDelayMs: positiveInt.default(30_000),
        /** Device stats every N seconds. */
        statsIntervalS: positiveInt.default(30),
        /** Emotion counts per window of N seconds. */
        countsWindowS: positiveInt.default(60),
        homeAssistant: z
          .object({
            enabled: z.boolean().default(true),
            discoveryPrefix: z.string().default('homeassistant'),
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
    /** Writable state (outbox, …). */
    dataDir: z.string().default('./data'),
    logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  })
  .strict();

export type KioskConfig = z.infer<typeof configSchema>;
export type KioskConfigInput = z.input<typeof configSchema>;
