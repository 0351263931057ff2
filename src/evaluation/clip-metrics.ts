/**
 * What `emotion-kiosk evaluate --clip` reports, computed from the clip's ground truth, what the detector and the
 * classifier saw on each frame, the tracker's events and the classifier's own predictions on the same images as
 * native crops. Pure: no OpenCV, no model.
 *
 * - detection rate: truth faces (on frames the detector ran on) with a detected box at IoU >= `matchIou`;
 * - accuracy on detected faces (each matched detection's top class vs the label) beside the native-crop accuracy
 *   of the same faces on the same frames;
 * - pairs: followed = the face's track `appeared` with the classifier's native prediction for A, then an
 *   `emotion_changed` to its native prediction for B while B was shown, and still reported B when B went;
 * - statics: `emotion_changed` events on faces that never changed;
 * - per pair not followed, why (`FollowFailure`, first that applies): the detector first, then the classifier
 *   through the detector, then the tracker. A track that is lost and comes back at the same place with B's label is
 *   not followed: the event stream says one visitor left and another appeared (a new faceId), not that the face
 *   changed, which is what a consumer counting changes per visitor reads.
 */
import { iou, type Box } from '../detection/index.js';
import type { FaceEvent } from '../events/index.js';
import { topEmotion, type Emotion, type EmotionScores } from '../model/index.js';
import { FaceTracker, type TrackerConfig } from '../pipeline/index.js';
import type { ClipItem, ClipSegment, ClipTruth } from './clip-plan.js';

export interface RecordedDetection {
  box: Box;
  scores: EmotionScores;
}

/** One frame the detector ran on. */
export interface RecordedFrame {
  index: number;
  timestamp: number;
  /** The clip's clock (Frame.mediaMs); the frame time where the source has none. */
  clockMs: number;
  detections: RecordedDetection[];
}

/** The part of a FaceEvent the metrics read. */
export type ClipEvent = Pick<FaceEvent, 'type' | 'faceId' | 'emotion' | 'frameIndex' | 'box'> & { previousEmotion?: Emotion };

/**
 * Why a pair was not followed (the first that applies):
 * - a-undetected: no track appeared while A was shown (A detected on fewer than confirmFrames frames);
 * - reappeared: the track was lost and a new one appeared with B's native prediction while B was shown;
 * - split: the item's track split otherwise;
 * - a-misread: the track appeared with another class than A's native prediction (the detector's crop reads otherwise);
 * - b-undetected: B detected on fewer than half its frames;
 * - b-misread: the detections of B mostly read another class than B's native prediction;
 * - late: the change to B's prediction came after B was gone;
 * - unstable: it changed to B's prediction while B was shown, then away;
 * - tracker: detected and read as natively, and still no change to B's prediction: the change rule's own miss.
 */
export const FOLLOW_FAILURES = ['a-undetected', 'reappeared', 'split', 'a-misread', 'b-undetected', 'b-misread', 'late', 'unstable', 'tracker'] as const;
export type FollowFailure = (typeof FOLLOW_FAILURES)[number];

export interface PairOutcome {
  item: number;
  labels: [Emotion, Emotion];
  native: [Emotion, Emotion];
  /** Tracks attributed to this item (more than one: the track split). */
  tracks: number;
  appeared: Emotion | null;
  /** emotion_changed events of the item's first track, in order: [frame, emotion]. */
  changes: Array<[number, Emotion]>;
  followed: boolean;
  /** Frames from B's first frame to the change to B's prediction. */
  followFrames: number | null;
  /** Fraction of A's and B's frames (scanned) with a detection. */
  detectedFraction: [number, number];
  /** The most frequent top class of A's and B's detections (null: never detected). */
  detectedMode: [Emotion | null, Emotion | null];
  /** As `followed`, with the predictions through the detector (detectedMode) instead of the native ones. */
  followedDetected: boolean;
  /** Why it was not followed (null: followed, or nothing to follow: A and B predicted alike natively). */
  failure: FollowFailure | null;
}

export interface ClipReport {
  frames: number;
  framesScanned: number;
  detection: {
    truthFaces: number;
    detected: number;
    rate: number;
    /** Detections that match no truth face. */
    falseDetections: number;
  };
  accuracy: {
    /** Matched detections (face-frames). */
    n: number;
    detected: number;
    /** The same face-frames, each counted with its image's native-crop prediction. */
    nativeSameFrames: number;
    /** Points: detected - native (negative = the detector's crops cost accuracy). */
    deltaPoints: number;
    /** Fraction of matched detections whose top class is the native prediction of that image. */
    agreementWithNative: number;
    /** Per image, all images of the clip: native-crop accuracy. */
    nativeImages: { n: number; accuracy: number };
  };
  pairs: {
    n: number;
    /** Pairs whose two images the classifier predicts differently (natively): a change to follow. */
    followable: number;
    followed: number;
    followRate: number;
    /** Pairs the classifier gets right natively (both images). */
    correct: number;
    followedCorrect: number;
    followRateCorrect: number;
    /** The pairs the classifier gets right that were not followed, by reason. */
    failuresCorrect: Record<FollowFailure, number>;
    /** Tracks that appeared with A's native prediction / changed to B's at some point while B was shown. */
    appearedAsNative: number;
    changedToNative: number;
    /** emotion_changed events while A was still shown (the face had not changed yet). */
    changesBeforeSwitch: number;
    /**
     * The tracker's part alone: pairs detected on at least half of A's and of B's frames whose modal predictions
     * through the detector differ; followed = appeared as A's, changed to B's while B was shown and stayed.
     */
    trackerFollowable: number;
    trackerFollowed: number;
    trackerFollowRate: number;
    /** Pairs that never got a track / whose track split. */
    untracked: number;
    split: number;
    followMsP50: number | null;
    followMsMax: number | null;
  };
  statics: {
    n: number;
    tracked: number;
    changes: number;
    facesWithChanges: number;
  };
  tracks: { total: number; unattributed: number };
  events: Record<FaceEvent['type'], number>;
  perPair: PairOutcome[];
}

/** Greedy one-to-one matching by descending IoU (>= threshold): [truthIndex, detectionIndex]. */
export function matchBoxes(truth: readonly Box[], detected: readonly Box[], threshold: number): Array<[number, number]> {
  const cands: Array<[number, number, number]> = [];
  truth.forEach((t, i) =>
    detected.forEach((d, j) => {
      const v = iou(t, d);
      if (v >= threshold && v > 0) cands.push([v, i, j]);
    }),
  );
  cands.sort((a, b) => b[0] - a[0]);
  const ut = new Set<number>();
  const ud = new Set<number>();
  const out: Array<[number, number]> = [];
  for (const [, i, j] of cands) {
    if (ut.has(i) || ud.has(j)) continue;
    ut.add(i);
    ud.add(j);
    out.push([i, j]);
  }
  return out;
}

/** The item a track belongs to: the one whose box its `appeared` box overlaps, shown at that frame (or in its gap). */
export function attributeTrack(truth: ClipTruth, appeared: ClipEvent, matchIou: number): ClipItem | undefined {
  let best: ClipItem | undefined;
  let bestIou = 0;
  for (const item of truth.items) {
    if (appeared.frameIndex < item.segments[0]!.startFrame || appeared.frameIndex >= item.gapEndFrame) continue;
    const v = iou(item.box, appeared.box);
    if (v >= matchIou && v > bestIou) {
      best = item;
      bestIou = v;
    }
  }
  return best;
}

const rate = (a: number, b: number) => (b > 0 ? a / b : 0);
const median = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function clipReport(opts: {
  truth: ClipTruth;
  frames: readonly RecordedFrame[];
  events: readonly ClipEvent[];
  /** Native-crop prediction per image path. */
  native: ReadonlyMap<string, Emotion>;
  /** Frames read from the clip. */
  framesRead: number;
  matchIou?: number;
}): ClipReport {
  const { truth, frames, events, native } = opts;
  const matchIou = opts.matchIou ?? 0.3;
  const nativeOf = (image: string): Emotion => {
    const e = native.get(image);
    if (!e) throw new Error(`no native prediction for ${image}`);
    return e;
  };

  // Detection and accuracy, frame by frame (only frames the detector ran on).
  let truthFaces = 0;
  let detected = 0;
  let falseDetections = 0;
  let correct = 0;
  let nativeCorrect = 0;
  let agree = 0;
  // Per segment: frames detected, and the top classes of its detections (the classifier through the detector).
  const seen = new Map<ClipSegment, { detected: number; votes: Map<Emotion, number> }>();
  for (const f of frames) {
    const shown: Array<{ box: Box; label: Emotion; image: string; segment: ClipSegment }> = [];
    for (const item of truth.items) {
      for (const s of item.segments) if (f.index >= s.startFrame && f.index < s.endFrame) shown.push({ box: item.box, label: s.label, image: s.image, segment: s });
    }
    truthFaces += shown.length;
    const pairs = matchBoxes(shown.map((s) => s.box), f.detections.map((d) => d.box), matchIou);
    detected += pairs.length;
    falseDetections += f.detections.length - pairs.length;
    for (const [ti, di] of pairs) {
      const s = shown[ti]!;
      const predicted = topEmotion(f.detections[di]!.scores).emotion;
      const nat = nativeOf(s.image);
      if (predicted === s.label) correct++;
      if (nat === s.label) nativeCorrect++;
      if (predicted === nat) agree++;
      const st = seen.get(s.segment) ?? { detected: 0, votes: new Map<Emotion, number>() };
      st.detected++;
      st.votes.set(predicted, (st.votes.get(predicted) ?? 0) + 1);
      seen.set(s.segment, st);
    }
  }
  const images = truth.items.flatMap((it) => it.segments);
  const nativeImagesCorrect = images.filter((s) => nativeOf(s.image) === s.label).length;

  // Tracks -> items.
  const eventsByFace = new Map<number, ClipEvent[]>();
  for (const ev of events) {
    const list = eventsByFace.get(ev.faceId) ?? [];
    list.push(ev);
    eventsByFace.set(ev.faceId, list);
  }
  const tracksOf = new Map<number, number[]>();
  let unattributed = 0;
  for (const [faceId, list] of eventsByFace) {
    const appeared = list.find((e) => e.type === 'appeared');
    const item = appeared ? attributeTrack(truth, appeared, matchIou) : undefined;
    if (!item) {
      unattributed++;
      continue;
    }
    tracksOf.set(item.id, [...(tracksOf.get(item.id) ?? []), faceId]);
  }
  const firstTrack = (item: ClipItem) => {
    const ids = tracksOf.get(item.id) ?? [];
    const lists = ids.map((id) => eventsByFace.get(id)!);
    lists.sort((a, b) => a[0]!.frameIndex - b[0]!.frameIndex);
    return { count: ids.length, events: lists[0] };
  };

  const perPair: PairOutcome[] = [];
  let changesBeforeSwitch = 0;
  const statics = { n: 0, tracked: 0, changes: 0, facesWithChanges: 0 };
  for (const item of truth.items) {
    const { count, events: evs } = firstTrack(item);
    const changes: Array<[number, Emotion]> = (evs ?? []).filter((e) => e.type === 'emotion_changed').map((e) => [e.frameIndex, e.emotion]);
    if (item.kind === 'static') {
      statics.n++;
      if (count > 0) statics.tracked++;
      // Every track on a static face counts: a split track's changes are changes too.
      const all = (tracksOf.get(item.id) ?? []).flatMap((id) => eventsByFace.get(id)!.filter((e) => e.type === 'emotion_changed'));
      statics.changes += all.length;
      if (all.length > 0) statics.facesWithChanges++;
      continue;
    }
    const [a, b] = item.segments as [ClipItem['segments'][0], ClipItem['segments'][0]];
    const nat: [Emotion, Emotion] = [nativeOf(a.image), nativeOf(b.image)];
    const appeared = evs?.find((e) => e.type === 'appeared');
    changesBeforeSwitch += changes.filter(([frame]) => frame < b.startFrame).length;
    const followsTo = (from: Emotion | null, to: Emotion | null) => {
      if (from === null || to === null || from === to || appeared === undefined) return { ok: false, at: undefined as number | undefined };
      const at = changes.find(([frame, e]) => frame >= b.startFrame && frame < b.endFrame && e === to)?.[0];
      const last = changes.length > 0 ? changes[changes.length - 1]![1] : appeared.emotion;
      return { ok: appeared.frameIndex < b.startFrame && appeared.emotion === from && at !== undefined && last === to, at };
    };
    const nativeFollow = followsTo(nat[0], nat[1]);
    const scanned = (s: ClipSegment) => frames.filter((f) => f.index >= s.startFrame && f.index < s.endFrame).length;
    const stat = (s: ClipSegment) => seen.get(s) ?? { detected: 0, votes: new Map<Emotion, number>() };
    const mode = (s: ClipSegment): Emotion | null => {
      let best: Emotion | null = null;
      let n = 0;
      for (const [e, c] of stat(s).votes) if (c > n) [best, n] = [e, c];
      return best;
    };
    const detectedMode: [Emotion | null, Emotion | null] = [mode(a), mode(b)];
    const failure = (): FollowFailure | null => {
      if (nativeFollow.ok || nat[0] === nat[1]) return null;
      if (appeared === undefined || appeared.frameIndex >= b.startFrame) return 'a-undetected';
      if (count > 1) {
        const later = (tracksOf.get(item.id) ?? []).map((id) => eventsByFace.get(id)!).filter((l) => l !== evs);
        const back = later.some((l) => l.some((e) => e.type === 'appeared' && e.frameIndex >= b.startFrame && e.frameIndex < b.endFrame && e.emotion === nat[1]));
        return back ? 'reappeared' : 'split';
      }
      if (appeared.emotion !== nat[0]) return 'a-misread';
      if (rate(stat(b).detected, scanned(b)) < 0.5) return 'b-undetected';
      if (detectedMode[1] !== nat[1]) return 'b-misread';
      const toB = changes.filter(([, e]) => e === nat[1]);
      if (toB.length > 0 && toB.every(([frame]) => frame >= b.endFrame)) return 'late';
      if (toB.some(([frame]) => frame >= b.startFrame && frame < b.endFrame)) return 'unstable';
      return 'tracker';
    };
    perPair.push({
      item: item.id,
      labels: [a.label, b.label],
      native: nat,
      tracks: count,
      appeared: appeared?.emotion ?? null,
      changes,
      followed: nativeFollow.ok,
      followFrames: nativeFollow.ok ? nativeFollow.at! - b.startFrame : null,
      detectedFraction: [rate(stat(a).detected, scanned(a)), rate(stat(b).detected, scanned(b))],
      detectedMode,
      followedDetected: followsTo(detectedMode[0], detectedMode[1]).ok,
      failure: failure(),
    });
  }

  const followable = perPair.filter((p) => p.native[0] !== p.native[1]);
  const trackerPairs = perPair.filter((p) => p.detectedFraction[0] >= 0.5 && p.detectedFraction[1] >= 0.5 && p.detectedMode[0] !== p.detectedMode[1]);
  const correctPairs = perPair.filter((p) => p.native[0] === p.labels[0] && p.native[1] === p.labels[1]);
  const followMs = perPair.filter((p) => p.followFrames !== null).map((p) => (p.followFrames! * 1000) / truth.fps);
  const eventsCount: ClipReport['events'] = { appeared: 0, emotion_changed: 0, left: 0 };
  for (const ev of events) eventsCount[ev.type]++;
  const pointsOf = (x: number) => Math.round(x * 10000) / 100;
  return {
    frames: opts.framesRead,
    framesScanned: frames.length,
    detection: { truthFaces, detected, rate: rate(detected, truthFaces), falseDetections },
    accuracy: {
      n: detected,
      detected: rate(correct, detected),
      nativeSameFrames: rate(nativeCorrect, detected),
      deltaPoints: pointsOf(rate(correct, detected) - rate(nativeCorrect, detected)),
      agreementWithNative: rate(agree, detected),
      nativeImages: { n: images.length, accuracy: rate(nativeImagesCorrect, images.length) },
    },
    pairs: {
      n: perPair.length,
      followable: followable.length,
      followed: followable.filter((p) => p.followed).length,
      followRate: rate(followable.filter((p) => p.followed).length, followable.length),
      correct: correctPairs.length,
      followedCorrect: correctPairs.filter((p) => p.followed).length,
      followRateCorrect: rate(correctPairs.filter((p) => p.followed).length, correctPairs.length),
      failuresCorrect: Object.fromEntries(FOLLOW_FAILURES.map((f) => [f, correctPairs.filter((p) => p.failure === f).length])) as Record<FollowFailure, number>,
      appearedAsNative: perPair.filter((p) => p.appeared === p.native[0]).length,
      changedToNative: perPair.filter((p) => {
        const item = truth.items[p.item]!;
        const b = item.segments[1]!;
        return p.changes.some(([frame, e]) => frame >= b.startFrame && frame < b.endFrame && e === p.native[1]);
      }).length,
      changesBeforeSwitch,
      trackerFollowable: trackerPairs.length,
      trackerFollowed: trackerPairs.filter((p) => p.followedDetected).length,
      trackerFollowRate: rate(trackerPairs.filter((p) => p.followedDetected).length, trackerPairs.length),
      untracked: perPair.filter((p) => p.tracks === 0).length,
      split: perPair.filter((p) => p.tracks > 1).length,
      followMsP50: median(followMs),
      followMsMax: followMs.length > 0 ? Math.max(...followMs) : null,
    },
    statics,
    tracks: { total: eventsByFace.size, unattributed },
    events: eventsCount,
    perPair,
  };
}

/**
 * Runs a tracker over recorded frames (what the detector and classifier saw) with another configuration: the events
 * the kiosk would have sent with it. The tracker is pure, so with the configuration of the live run this gives the
 * live run's events.
 */
export function replayTracker(frames: readonly RecordedFrame[], cfg: TrackerConfig): ClipEvent[] {
  let n = 0;
  const tracker = new FaceTracker(cfg, { name: 'replay', version: '0' }, () => `replay-${++n}`, () => 0);
  const out: ClipEvent[] = [];
  let last = { index: 0, timestamp: 0 };
  for (const f of frames) {
    out.push(...tracker.update(f.index, f.timestamp, f.detections, f.clockMs).events.map(toClipEvent));
    last = { index: f.index, timestamp: f.timestamp };
  }
  out.push(...tracker.flush(last.index, last.timestamp).map(toClipEvent));
  return out;
}

export function toClipEvent(e: FaceEvent): ClipEvent {
  const out: ClipEvent = { type: e.type, faceId: e.faceId, emotion: e.emotion, frameIndex: e.frameIndex, box: { ...e.box } };
  if (e.previousEmotion) out.previousEmotion = e.previousEmotion;
  return out;
}
