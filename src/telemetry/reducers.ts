/**
 * Pure reducers that turn the pipeline's frames and events into the retained state, the per-window counts and the
 * frame statistics the kiosk publishes (and the in-process dashboard shows). No I/O, no clocks: times come in.
 */
import { EMOTIONS, type Emotion } from '../model/index.js';
import type { FaceEvent, FaceEventType, FrameReport, ModelRef } from '../events/index.js';
import { round4 } from './payloads.js';
import { PAYLOAD_VERSION, type CountsPayload, type StatePayload } from '../contract/index.js';

export function zeroEmotions(): Record<Emotion, number> {
  const out = {} as Record<Emotion, number>;
  for (const e of EMOTIONS) out[e] = 0;
  return out;
}

/** The retained state for one frame report. */
export function deriveState(deviceId: string, model: ModelRef, report: Pick<FrameReport, 'faces'>, now: number): StatePayload {
  const emotions = zeroEmotions();
  for (const f of report.faces) emotions[f.emotion] += 1;
  return {
    version: PAYLOAD_VERSION,
    deviceId,
    timestamp: now,
    faces: report.faces.length,
    emotions,
    facesInView: report.faces
      .map((f) => ({ faceId: f.faceId, emotion: f.emotion, confidence: round4(f.confidence), firstSeen: f.firstSeen }))
      .sort((a, b) => a.faceId - b.faceId),
    model: { name: model.name, version: model.version },
  };
}

/** What makes a state worth re-publishing: which faces are in view and their emotions (not confidence jitter). */
export function stateKey(s: Pick<StatePayload, 'facesInView'>): string {
  return s.facesInView.map((f) => `${f.faceId}:${f.emotion}`).join(',');
}

/** Longest gap between two frames still counted as face time (a stalled camera must not inflate face-seconds). */
const MAX_FRAME_GAP_MS = 2_000;

/** Emotion counts over a window of time: events per type, emotions entered, face-seconds per emotion. */
export class WindowCounter {
  private start: number;
  private events: Record<FaceEventType, number> = { appeared: 0, emotion_changed: 0, left: 0 };
  private emotionEvents = zeroEmotions();
  private faceMs = zeroEmotions();
  private peakFaces = 0;
  private frames = 0;
  private lastFrame: { t: number; emotions: Emotion[] } | null = null;

  constructor(
    private readonly deviceId: string,
    private readonly windowS: number,
    now: number,
  ) {
    this.start = now;
  }

  onEvent(e: Pick<FaceEvent, 'type' | 'emotion'>): void {
    this.events[e.type] += 1;
    if (e.type !== 'left') this.emotionEvents[e.emotion] += 1;
  }

  onFrame(r: Pick<FrameReport, 'faces' | 'frameTimestamp'>): void {
    this.frames += 1;
    this.peakFaces = Math.max(this.peakFaces, r.faces.length);
    this.accrue(r.frameTimestamp);
    this.lastFrame = { t: r.frameTimestamp, emotions: r.faces.map((f) => f.emotion) };
  }

  /** True when the window that started at `start` has run its length. */
  due(now: number): boolean {
    return now - this.start >= this.windowS * 1000;
  }

  /** Closes the window at `now`, returns its counts and starts the next one. */
  close(now: number): CountsPayload {
    this.accrue(now);
    const faceSeconds = zeroEmotions();
    for (const e of EMOTIONS) faceSeconds[e] = Math.round(this.faceMs[e]) / 1000;
    const out: CountsPayload = {
      version: PAYLOAD_VERSION,
      deviceId: this.deviceId,
      windowStart: this.start,
      windowEnd: now,
      windowS: this.windowS,
      events: { ...this.events },
      emotionEvents: { ...this.emotionEvents },
      faceSeconds,
      peakFaces: this.peakFaces,
      frames: this.frames,
    };
    this.start = now;
    this.events = { appeared: 0, emotion_changed: 0, left: 0 };
    this.emotionEvents = zeroEmotions();
    this.faceMs = zeroEmotions();
    this.peakFaces = this.lastFrame?.emotions.length ?? 0;
    this.frames = 0;
    return out;
  }

  /** Adds the time since the last frame (capped) to the emotions that frame showed, and moves the mark to `t`. */
  private accrue(t: number): void {
    if (!this.lastFrame) return;
    const from = Math.max(this.lastFrame.t, this.start);
    const dt = Math.min(Math.max(0, t - from), MAX_FRAME_GAP_MS);
    for (const e of this.lastFrame.emotions) this.faceMs[e] += dt;
    this.lastFrame = { ...this.lastFrame, t: Math.max(t, this.lastFrame.t) };
  }
}

export interface FrameStatsSnapshot {
  fps: number;
  frames: number;
  latencyMs: { capture: number; detect: number; classify: number };
}

/** Frame rate and mean latencies since the last snapshot. */
export class FrameStats {
  private frames = 0;
  private sum = { capture: 0, detect: 0, classify: 0 };
  private lastFps = 0;

  onFrame(r: Pick<FrameReport, 'captureMs' | 'detectMs' | 'classifyMs' | 'fps'>): void {
    this.frames += 1;
    this.sum.capture += r.captureMs;
    this.sum.detect += r.detectMs;
    this.sum.classify += r.classifyMs;
    this.lastFps = r.fps;
  }

  /** Means since the previous snapshot (zeros when no frame came), then resets the sums. */
  snapshot(): FrameStatsSnapshot {
    const n = this.frames;
    const mean = (x: number) => (n > 0 ? Math.round((x / n) * 100) / 100 : 0);
    const out = {
      fps: n > 0 ? Math.round(this.lastFps * 100) / 100 : 0,
      frames: n,
      latencyMs: { capture: mean(this.sum.capture), detect: mean(this.sum.detect), classify: mean(this.sum.classify) },
    };
    this.frames = 0;
    this.sum = { capture: 0, detect: 0, classify: 0 };
    return out;
  }
}
