/**
 * Tracking, smoothing and event rules: pure logic, no I/O. Faces keep an id across frames by box overlap; scores are
 * smoothed exponentially on the rule clock (time constant `smoothingMs`, so a slower frame rate follows as soon);
 * events are emitted when a face appears (after `confirmFrames` detections), when its
 * smoothed emotion changes (another emotion led the reported one by `changeMargin`, at `minConfidence` or more, for
 * `minDwellMs` without a break) and when it leaves (unseen for `maxMissingMs`).
 */
import { iou, type Box } from '../detection/index.js';
import type { FaceEvent, FaceEventType, ModelRef, TrackedFaceView } from '../events/index.js';
import { EMOTIONS, topEmotion, type Emotion, type EmotionScores } from '../model/index.js';

export interface TrackerConfig {
  iouThreshold: number;
  confirmFrames: number;
  maxMissingMs: number;
  /**
   * Exponential smoothing with this time constant (ms) on the rule clock: an observation on a frame `dt` ms after the
   * previous frame weighs 1 - exp(-dt / smoothingMs), whatever the frame rate (0 = no smoothing). Frames where the
   * face was missed do not count: the next observation weighs what one frame does.
   */
  smoothingMs?: number;
  /** Per-frame smoothing instead (the weight of the newest frame, whatever its interval): when set, it wins. */
  smoothingAlpha?: number;
  minDwellMs: number;
  minConfidence: number;
  /**
   * Hysteresis: a new emotion takes over only after its smoothed score has led the reported emotion's by at least
   * this much (and reached minConfidence) for minDwellMs without a break. 0 (absent): leading at all is enough.
   */
  changeMargin?: number;
}

export interface Observation {
  box: Box;
  scores: EmotionScores;
}

interface Track {
  id: number;
  box: Box;
  /** Epoch ms (published in events). */
  firstSeen: number;
  /** On the rule clock (see update). */
  lastSeen: number;
  hits: number;
  smoothed: EmotionScores;
  confirmed: boolean;
  reported: Emotion | undefined;
  candidate: Emotion | undefined;
  candidateSince: number;
}

export interface TrackerOutput {
  events: FaceEvent[];
}

/** Pairs tracks and observations greedily by descending IoU (>= threshold). Returns [trackIndex, obsIndex] pairs. */
export function matchByIou(tracks: readonly Box[], observations: readonly Box[], threshold: number): Array<[number, number]> {
  const candidates: Array<[number, number, number]> = [];
  tracks.forEach((t, i) =>
    observations.forEach((o, j) => {
      const overlap = iou(t, o);
      if (overlap >= threshold && overlap > 0) candidates.push([overlap, i, j]);
    }),
  );
  candidates.sort((a, b) => b[0] - a[0]);
  const usedT = new Set<number>();
  const usedO = new Set<number>();
  const pairs: Array<[number, number]> = [];
  for (const [, i, j] of candidates) {
    if (usedT.has(i) || usedO.has(j)) continue;
    usedT.add(i);
    usedO.add(j);
    pairs.push([i, j]);
  }
  return pairs;
}

/** The weight of an observation on a frame `dtMs` after the previous frame: per frame (smoothingAlpha) or by time constant. */
export function smoothingWeight(cfg: Pick<TrackerConfig, 'smoothingAlpha' | 'smoothingMs'>, dtMs: number): number {
  if (cfg.smoothingAlpha !== undefined) return cfg.smoothingAlpha;
  const tau = cfg.smoothingMs ?? DEFAULT_SMOOTHING_MS;
  if (!(tau > 0)) return 1;
  return dtMs > 0 ? 1 - Math.exp(-dtMs / tau) : 0;
}

/** The config's default (src/config/schema.ts): 0.43 per frame at 15 frames/s. */
export const DEFAULT_SMOOTHING_MS = 120;

export function smoothScores(prev: EmotionScores, next: EmotionScores, alpha: number): EmotionScores {
  const out = {} as EmotionScores;
  for (const e of EMOTIONS) out[e] = alpha * next[e] + (1 - alpha) * prev[e];
  return out;
}

export class FaceTracker {
  private tracks: Track[] = [];
  private nextId = 1;
  /** The rule clock of the previous update: smoothing weighs a frame by the interval since (frames, not sightings). */
  private prevClockMs: number | undefined;

  constructor(
    private readonly cfg: TrackerConfig,
    private readonly model: ModelRef,
    private readonly newEventId: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Feeds one frame's detections (all of them, possibly none). `frameTimestamp` (epoch ms) is what events report;
   * `clockMs` is the clock the time rules (dwell, missing) run on: the frame time by default, a video file's own
   * clock (Frame.mediaMs) for recorded clips. It must not go backwards.
   */
  update(frameIndex: number, frameTimestamp: number, observations: readonly Observation[], clockMs = frameTimestamp): TrackerOutput {
    const events: FaceEvent[] = [];
    // A frame's weight comes from the frame interval, not the time since the face was last seen: a missed detection
    // is no evidence of a change, so the frame after it weighs what any frame does.
    const frameMs = this.prevClockMs === undefined ? 0 : clockMs - this.prevClockMs;
    this.prevClockMs = clockMs;
    const pairs = matchByIou(this.tracks.map((t) => t.box), observations.map((o) => o.box), this.cfg.iouThreshold);
    const seen = new Set<Track>();
    const matchedObs = new Set<number>();
    for (const [ti, oi] of pairs) {
      const track = this.tracks[ti]!;
      const obs = observations[oi]!;
      track.smoothed = smoothScores(track.smoothed, obs.scores, smoothingWeight(this.cfg, frameMs));
      track.box = obs.box;
      track.lastSeen = clockMs;
      track.hits++;
      seen.add(track);
      matchedObs.add(oi);
    }
    observations.forEach((obs, oi) => {
      if (matchedObs.has(oi)) return;
      const track: Track = {
        id: this.nextId++,
        box: obs.box,
        firstSeen: frameTimestamp,
        lastSeen: clockMs,
        hits: 1,
        smoothed: { ...obs.scores },
        confirmed: false,
        reported: undefined,
        candidate: undefined,
        candidateSince: clockMs,
      };
      this.tracks.push(track);
      seen.add(track);
    });

    for (const track of seen) {
      const top = topEmotion(track.smoothed);
      if (!track.confirmed) {
        if (track.hits >= this.cfg.confirmFrames) {
          track.confirmed = true;
          track.reported = top.emotion;
          track.candidate = top.emotion;
          track.candidateSince = clockMs;
          events.push(this.event('appeared', track, frameIndex, frameTimestamp));
        }
        continue;
      }
      // Relative, with hysteresis: the leader must stay ahead of the reported emotion by the margin for the whole
      // dwell; a frame under it (or another leader) starts the dwell again, so near-ties and blips never flip a face.
      const leads =
        top.emotion !== track.reported &&
        top.confidence - track.smoothed[track.reported!] >= (this.cfg.changeMargin ?? 0) &&
        top.confidence >= this.cfg.minConfidence;
      if (!leads || top.emotion !== track.candidate) {
        track.candidate = leads ? top.emotion : track.reported;
        track.candidateSince = clockMs;
      }
      if (leads && clockMs - track.candidateSince >= this.cfg.minDwellMs) {
        const previous = track.reported;
        track.reported = track.candidate;
        events.push(this.event('emotion_changed', track, frameIndex, frameTimestamp, previous));
      }
    }

    const remaining: Track[] = [];
    for (const track of this.tracks) {
      if (clockMs - track.lastSeen > this.cfg.maxMissingMs) {
        if (track.confirmed) events.push(this.event('left', track, frameIndex, frameTimestamp));
      } else {
        remaining.push(track);
      }
    }
    this.tracks = remaining;

    return { events };
  }

  /** Faces currently tracked and confirmed (seen within maxMissingMs). */
  activeFaces(): TrackedFaceView[] {
    return this.tracks.filter((t) => t.confirmed).map((t) => this.view(t));
  }

  /** Ends every confirmed track (at shutdown or end of a video): `left` events. */
  flush(frameIndex: number, frameTimestamp: number): FaceEvent[] {
    const events = this.tracks.filter((t) => t.confirmed).map((t) => this.event('left', t, frameIndex, frameTimestamp));
    this.tracks = [];
    return events;
  }

  private view(t: Track): TrackedFaceView {
    const emotion = t.reported ?? topEmotion(t.smoothed).emotion;
    return { faceId: t.id, box: { ...t.box }, emotion, confidence: t.smoothed[emotion], scores: { ...t.smoothed }, firstSeen: t.firstSeen };
  }

  private event(type: FaceEventType, t: Track, frameIndex: number, frameTimestamp: number, previousEmotion?: Emotion): FaceEvent {
    const emotion = t.reported ?? topEmotion(t.smoothed).emotion;
    const ev: FaceEvent = {
      type,
      eventId: this.newEventId(),
      faceId: t.id,
      timestamp: this.now(),
      firstSeen: t.firstSeen,
      emotion,
      confidence: t.smoothed[emotion],
      scores: { ...t.smoothed },
      box: { ...t.box },
      frameIndex,
      frameTimestamp,
      model: this.model,
    };
    if (previousEmotion) ev.previousEmotion = previousEmotion;
    return ev;
  }
}
