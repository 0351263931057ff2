/** Test fixtures: kiosk configs, face events and frame reports, and the contract validator (ajv, draft 2020-12). */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { configSchema, type KioskConfig, type KioskConfigInput } from '../../../src/config/schema.js';
import { EMOTIONS, type Emotion, type EmotionScores } from '../../../src/model/labels.js';
import type { FaceEvent, FaceEventType, FrameReport } from '../../../src/events/types.js';
import type { TopicKind } from '../../../src/contract/topics.js';

export const MODEL = { name: 'deep_emotion', version: 'test-1' };

export function kioskConfig(mqtt: NonNullable<KioskConfigInput['mqtt']>, dataDir: string): KioskConfig {
  return configSchema.parse({ mqtt, dataDir });
}

export function scores(top: Emotion, p = 0.7): EmotionScores {
  const out = {} as EmotionScores;
  for (const e of EMOTIONS) out[e] = e === top ? p : (1 - p) / 6;
  return out;
}

export function faceEvent(i: number, type: FaceEventType = 'emotion_changed', emotion: Emotion = EMOTIONS[i % 7]!): FaceEvent {
  const t = 1_780_000_000_000 + i * 10;
  return {
    type,
    eventId: randomUUID(),
    faceId: i % 5,
    timestamp: t,
    firstSeen: t - 500,
    emotion,
    confidence: 0.7,
    scores: scores(emotion),
    ...(type === 'emotion_changed' ? { previousEmotion: emotion === 'neutral' ? 'happy' : 'neutral' } : {}),
    box: { x: 10.4, y: 20, width: 64, height: 64 },
    frameIndex: i,
    frameTimestamp: t - 30,
    model: MODEL,
  };
}

export function frame(i: number, faces: { id: number; emotion: Emotion }[], t = 1_780_000_000_000 + i * 66): FrameReport {
  return {
    frameIndex: i,
    frameTimestamp: t,
    faces: faces.map((f) => ({ faceId: f.id, box: { x: 0, y: 0, width: 50, height: 50 }, emotion: f.emotion, confidence: 0.8, scores: scores(f.emotion, 0.8), firstSeen: t - 1000 })),
    detections: faces.length,
    captureMs: 2,
    detectMs: 12,
    classifyMs: 4,
    fps: 15,
  };
}

const schemaPath = new URL('../../../src/contract/contract.schema.json', import.meta.url);
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv);
ajv.addSchema(JSON.parse(readFileSync(schemaPath, 'utf8')) as object, 'contract');

/** Validates a payload against `#/$defs/<kind>`; returns the errors as text (empty = valid). */
export function contractErrors(kind: TopicKind, payload: unknown): string {
  const v = ajv.getSchema(`contract#/$defs/${kind === 'events' ? 'event' : kind}`);
  if (!v) throw new Error(`no schema for ${kind}`);
  return v(payload) ? '' : ajv.errorsText(v.errors);
}
