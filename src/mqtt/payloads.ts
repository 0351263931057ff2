/**
 * JSON payloads of the MQTT contract (src/mqtt/contract.schema.json describes the same shapes; tests validate real
 * messages against it). Every payload carries `version` (bumped on a breaking change) and `deviceId`. Pure.
 */
import type { Emotion, EmotionScores } from '../model/labels.js';
import type { Box, FaceEvent, FaceEventType, ModelRef } from '../events/types.js';

export const PAYLOAD_VERSION = 1;

export interface AvailabilityPayload {
  version: 1;
  state: 'online' | 'offline';
  /** Why the device is offline: `shutdown` (clean stop) or `connection_lost` (the broker's last will). */
  reason?: 'shutdown' | 'connection_lost';
  deviceId: string;
  /** Epoch ms; absent in the last will (the broker sends it later, at an unknown time). */
  timestamp?: number;
}

export interface EventPayload {
  version: 1;
  deviceId: string;
  /** Per-device sequence number from the outbox: strictly increasing in publish order; gaps = dropped by bounds. */
  seq: number;
  eventId: string;
  type: FaceEventType;
  faceId: number;
  timestamp: number;
  time: string;
  firstSeen: number;
  emotion: Emotion;
  confidence: number;
  previousEmotion?: Emotion;
  scores: EmotionScores;
  box: Box;
  frameIndex: number;
  frameTimestamp: number;
  model: ModelRef;
}

export interface StateFace {
  faceId: number;
  emotion: Emotion;
  confidence: number;
  firstSeen: number;
}

export interface StatePayload {
  version: 1;
  deviceId: string;
  timestamp: number;
  /** Number of faces in view now. */
  faces: number;
  /** Faces in view now, per current emotion (all seven keys). */
  emotions: Record<Emotion, number>;
  facesInView: StateFace[];
  model: ModelRef;
}

export interface CountsPayload {
  version: 1;
  deviceId: string;
  windowStart: number;
  windowEnd: number;
  windowS: number;
  /** Face events in the window, per type. */
  events: Record<FaceEventType, number>;
  /** How many times each emotion was entered (appeared with it or changed to it). */
  emotionEvents: Record<Emotion, number>;
  /** Face-seconds spent showing each emotion (sum over faces of time in view). */
  faceSeconds: Record<Emotion, number>;
  peakFaces: number;
  frames: number;
}

export interface StatsPayload {
  version: 1;
  deviceId: string;
  timestamp: number;
  /** Seconds since the kiosk process started. */
  uptimeS: number;
  systemUptimeS: number;
  fps: number;
  frames: number;
  latencyMs: { capture: number; detect: number; classify: number };
  cpu: { loadPct: number | null; temperatureC: number | null };
  memory: { usedPct: number | null; processRssMb: number };
  outbox: { pending: number; dropped: number; durable: boolean };
  broker: { connected: boolean };
  model: ModelRef;
}

/** The inputs of a stats message: health from systeminformation, frame stats since the last message, outbox/broker. */
export interface StatsInputs {
  deviceId: string;
  now: number;
  /** When the kiosk process started (epoch ms). */
  startedAt: number;
  health: { systemUptimeS: number; cpuLoadPct: number | null; temperatureC: number | null; memUsedPct: number | null; processRssMb: number };
  frames: { fps: number; frames: number; latencyMs: StatsPayload['latencyMs'] };
  outbox: StatsPayload['outbox'];
  brokerConnected: boolean;
  model: ModelRef;
}

export function statsPayload(i: StatsInputs): StatsPayload {
  return {
    version: PAYLOAD_VERSION,
    deviceId: i.deviceId,
    timestamp: i.now,
    uptimeS: Math.round((i.now - i.startedAt) / 1000),
    systemUptimeS: i.health.systemUptimeS,
    fps: i.frames.fps,
    frames: i.frames.frames,
    latencyMs: i.frames.latencyMs,
    cpu: { loadPct: i.health.cpuLoadPct, temperatureC: i.health.temperatureC },
    memory: { usedPct: i.health.memUsedPct, processRssMb: i.health.processRssMb },
    outbox: i.outbox,
    broker: { connected: i.brokerConnected },
    model: { name: i.model.name, version: i.model.version },
  };
}

export function availabilityPayload(
  deviceId: string,
  state: 'online' | 'offline',
  opts: { reason?: 'shutdown' | 'connection_lost'; timestamp?: number } = {},
): AvailabilityPayload {
  return {
    version: PAYLOAD_VERSION,
    state,
    deviceId,
    ...(opts.reason ? { reason: opts.reason } : {}),
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
  };
}

export function eventPayload(deviceId: string, seq: number, e: FaceEvent): EventPayload {
  return {
    version: PAYLOAD_VERSION,
    deviceId,
    seq,
    eventId: e.eventId,
    type: e.type,
    faceId: e.faceId,
    timestamp: e.timestamp,
    time: new Date(e.timestamp).toISOString(),
    firstSeen: e.firstSeen,
    emotion: e.emotion,
    confidence: round4(e.confidence),
    ...(e.previousEmotion ? { previousEmotion: e.previousEmotion } : {}),
    scores: roundScores(e.scores),
    box: { x: Math.round(e.box.x), y: Math.round(e.box.y), width: Math.round(e.box.width), height: Math.round(e.box.height) },
    frameIndex: e.frameIndex,
    frameTimestamp: e.frameTimestamp,
    model: { name: e.model.name, version: e.model.version },
  };
}

export function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

function roundScores(s: EmotionScores): EmotionScores {
  const out = {} as EmotionScores;
  for (const [k, v] of Object.entries(s)) out[k as Emotion] = round4(v);
  return out;
}
