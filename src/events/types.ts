/**
 * What the pipeline produces. Sinks (console, summary, MQTT, dashboard state) only see these types; the pipeline
 * never imports a sink.
 */
import type { Box } from '../detection/index.js';
import type { Emotion, EmotionScores } from '../model/index.js';

export interface ModelRef {
  name: string;
  version: string;
}

export type FaceEventType = 'appeared' | 'emotion_changed' | 'left';

export interface FaceEvent {
  type: FaceEventType;
  /** Unique per event (UUID): subscribers de-duplicate on it (QoS 1 may deliver twice). */
  eventId: string;
  /** Track id, stable while the face stays in view; unique within one kiosk process run. */
  faceId: number;
  /** Epoch ms when the event was decided. */
  timestamp: number;
  /** Epoch ms when this face was first seen. */
  firstSeen: number;
  /** Smoothed emotion and its smoothed probability. */
  emotion: Emotion;
  confidence: number;
  /** Smoothed probabilities over all seven classes (sum ~1). */
  scores: EmotionScores;
  /** For `emotion_changed`: the emotion before; for `left`: unset. */
  previousEmotion?: Emotion;
  /** Last known box in source-frame pixels. */
  box: Box;
  frameIndex: number;
  /** Epoch ms of the frame that led to this event (frame-to-event latency = timestamp - frameTimestamp). */
  frameTimestamp: number;
  model: ModelRef;
}

/** One face as currently tracked (for displays and retained state). */
export interface TrackedFaceView {
  faceId: number;
  box: Box;
  emotion: Emotion;
  confidence: number;
  scores: EmotionScores;
  firstSeen: number;
}

/** Per-frame snapshot after detection + classification + tracking. */
export interface FrameReport {
  frameIndex: number;
  frameTimestamp: number;
  faces: TrackedFaceView[];
  /** Raw detections this frame (before tracking). */
  detections: number;
  captureMs: number;
  detectMs: number;
  classifyMs: number;
  /** Frames per second over a sliding window. */
  fps: number;
}

export interface EventSink {
  readonly name: string;
  start?(): Promise<void>;
  onEvent(event: FaceEvent): void | Promise<void>;
  onFrame?(report: FrameReport): void;
  /** Flush and release; called once at shutdown. */
  stop?(): Promise<void>;
}
