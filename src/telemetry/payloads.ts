/**
 * Builders of the telemetry payloads (the MQTT contract's JSON). The shapes are defined once, as zod schemas, in contract.ts (which
 * also generates contract.schema.json); the types here are inferred from them. Every payload carries `version`
 * (bumped on a breaking change) and `deviceId`. Pure.
 */
import type { Emotion, EmotionScores } from '../model/index.js';
import type { FaceEvent, ModelRef } from '../events/index.js';
import { PAYLOAD_VERSION, type AvailabilityPayload, type EventPayload, type StatsPayload } from '../contract/index.js';


/** The inputs of a stats message: health from systeminformation, frame stats since the last message, outbox/broker. */
export interface StatsInputs {
  deviceId: string;
  now: number;
  /** When the kiosk process started (epoch ms). */
  startedAt: number;
  health: { systemUptimeS: number; cpuLoadPct: number | null; temperatureC: number | null; memUsedPct: number | null; processRssMb: number };
  frames: { fps: number; frames: number; latencyMs: StatsPayload['latencyMs'] };
  outbox: StatsPayload['outbox'];
  camera: StatsPayload['camera'];
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
    outbox: { pending: i.outbox.pending, dropped: i.outbox.dropped, durable: i.outbox.durable, unstored: i.outbox.unstored },
    camera: { state: i.camera.state, reconnects: i.camera.reconnects, droppedFrames: i.camera.droppedFrames },
    broker: { connected: i.brokerConnected },
    model: { name: i.model.name, version: i.model.version },
  };
}

export function availabilityPayload(
  deviceId: string,
  state: 'online' | 'offline',
  opts: { reason?: 'shutdown' | 'connection_lost'; timestamp?: number } = {},
): AvailabilityPayload {
  const timestamp = opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {};
  if (state === 'online') return { version: PAYLOAD_VERSION, state, deviceId, ...timestamp };
  return { version: PAYLOAD_VERSION, state, deviceId, reason: opts.reason ?? 'connection_lost', ...timestamp };
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
  } as EventPayload; // the tracker sets previousEmotion on every emotion_changed; the contract tests check it
}

export function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

function roundScores(s: EmotionScores): EmotionScores {
  const out = {} as EmotionScores;
  for (const [k, v] of Object.entries(s)) out[k as Emotion] = round4(v);
  return out;
}
