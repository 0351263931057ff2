import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attributeTrack, clipReport, matchBoxes, replayTracker, type ClipEvent, type RecordedFrame } from '../../src/evaluation/clip-metrics.js';
import { CLIP_FORMAT, type ClipTruth } from '../../src/evaluation/clip-plan.js';
import { EMOTIONS, type Emotion, type EmotionScores } from '../../src/model/labels.js';

const P = { x: 100, y: 100, width: 180, height: 180 };
const S = { x: 500, y: 100, width: 180, height: 180 };
const far = { x: 800, y: 400, width: 60, height: 60 };
const inner = (b: typeof P) => ({ x: b.x + 25, y: b.y + 30, width: 130, height: 130 });

function scores(top: Emotion, p = 0.7): EmotionScores {
  const s = {} as EmotionScores;
  for (const e of EMOTIONS) s[e] = e === top ? p : (1 - p) / 6;
  return s;
}

// fps 10: a pair (happy 0-10, sad 10-20) in P and a static (fear 0-20) in S, both gaps to 30.
const truth: ClipTruth = {
  format: CLIP_FORMAT, video: 'clip.avi', width: 960, height: 540, fps: 10, frames: 30, seed: 1, faceSize: 180,
  holdMs: 1000, staticMs: 2000, gapMs: 1000, jitterPx: 0, noiseSigma: 0, data: '/d', slots: [P, S],
  items: [
    { id: 0, kind: 'pair', slot: 0, box: P, gapEndFrame: 30, segments: [
      { startFrame: 0, endFrame: 10, label: 'happy', image: 'a.jpg' },
      { startFrame: 10, endFrame: 20, label: 'sad', image: 'b.jpg' },
    ] },
    { id: 1, kind: 'static', slot: 1, box: S, gapEndFrame: 30, segments: [{ startFrame: 0, endFrame: 20, label: 'fear', image: 's.jpg' }] },
  ],
};
const native = new Map<string, Emotion>([['a.jpg', 'happy'], ['b.jpg', 'sad'], ['s.jpg', 'neutral']]);

function frames(): RecordedFrame[] {
  const out: RecordedFrame[] = [];
  for (let i = 0; i < 30; i++) {
    const detections: RecordedFrame['detections'] = [];
    if (i < 20 && i !== 3 && i !== 4) detections.push({ box: inner(P), scores: scores(i < 12 ? 'happy' : 'sad') });
    if (i < 20) detections.push({ box: inner(S), scores: scores('neutral') });
    if (i === 5) detections.push({ box: far, scores: scores('angry') });
    out.push({ index: i, timestamp: 1000 + i * 100, clockMs: i * 100, detections });
  }
  return out;
}

const ev = (type: ClipEvent['type'], faceId: number, emotion: Emotion, frameIndex: number, box = P): ClipEvent => ({ type, faceId, emotion, frameIndex, box: inner(box) });

test('matchBoxes pairs one detection per truth box at IoU >= threshold, best first', () => {
  assert.deepEqual(matchBoxes([P, S], [inner(S), inner(P), far], 0.3).sort(), [[0, 1], [1, 0]]);
  assert.deepEqual(matchBoxes([P], [far], 0.3), []);
});

test('clipReport: detection rate, accuracy beside native crops, follow and static changes', () => {
  const events = [
    ev('appeared', 1, 'happy', 1), ev('emotion_changed', 1, 'sad', 15), ev('left', 1, 'sad', 30),
    ev('appeared', 2, 'neutral', 1, S), ev('emotion_changed', 2, 'angry', 8, S), ev('left', 2, 'angry', 30, S),
    { type: 'appeared', faceId: 3, emotion: 'angry', frameIndex: 6, box: far } as ClipEvent,
  ];
  const r = clipReport({ truth, frames: frames(), events, native, framesRead: 30 });
  assert.deepEqual(r.detection, { truthFaces: 40, detected: 38, rate: 38 / 40, falseDetections: 1 });
  // P: 18 detected, frames 10 and 11 still show happy's top class (wrong, and not the native 'sad'); S: top 'neutral', label 'fear'.
  assert.equal(r.accuracy.n, 38);
  assert.equal(r.accuracy.detected, 16 / 38);
  assert.equal(r.accuracy.nativeSameFrames, 18 / 38);
  assert.equal(r.accuracy.agreementWithNative, 36 / 38);
  assert.equal(r.accuracy.deltaPoints, -5.26);
  assert.deepEqual(r.accuracy.nativeImages, { n: 3, accuracy: 2 / 3 });
  assert.equal(r.pairs.n, 1);
  assert.equal(r.pairs.followed, 1);
  assert.equal(r.pairs.followRate, 1);
  assert.equal(r.pairs.correct, 1);
  assert.equal(r.pairs.followRateCorrect, 1);
  assert.equal(r.pairs.followMsP50, 500);
  assert.deepEqual(r.perPair[0]!.changes, [[15, 'sad']]);
  assert.deepEqual(r.perPair[0]!.detectedFraction, [0.8, 1]);
  assert.deepEqual(r.perPair[0]!.detectedMode, ['happy', 'sad']);
  assert.deepEqual([r.pairs.trackerFollowable, r.pairs.trackerFollowed, r.pairs.trackerFollowRate], [1, 1, 1]);
  assert.deepEqual(r.statics, { n: 1, tracked: 1, changes: 1, facesWithChanges: 1 });
  assert.deepEqual(r.tracks, { total: 3, unattributed: 1 });
  assert.deepEqual(r.events, { appeared: 3, emotion_changed: 2, left: 2 });
});

test('not followed: no change, a change to another class, a change undone, a track that split; same predictions are not followable', () => {
  const base = { truth, frames: frames(), framesRead: 30 };
  const run = (events: ClipEvent[], nat = native) => clipReport({ ...base, events, native: nat }).pairs;
  assert.equal(run([ev('appeared', 1, 'happy', 1)]).followed, 0);
  assert.equal(run([ev('appeared', 1, 'happy', 1), ev('emotion_changed', 1, 'fear', 14)]).followed, 0);
  assert.equal(run([ev('appeared', 1, 'happy', 1), ev('emotion_changed', 1, 'sad', 14), ev('emotion_changed', 1, 'happy', 18)]).followed, 0);
  assert.equal(run([ev('appeared', 1, 'sad', 1), ev('emotion_changed', 1, 'sad', 14)]).followed, 0, 'appeared with the wrong class');
  const split = run([ev('appeared', 1, 'happy', 1), ev('left', 1, 'happy', 12), ev('appeared', 2, 'sad', 13)]);
  assert.deepEqual([split.followed, split.split], [0, 1]);
  const before = run([ev('appeared', 1, 'happy', 1), ev('emotion_changed', 1, 'surprise', 5), ev('emotion_changed', 1, 'sad', 15)]);
  assert.equal(before.changesBeforeSwitch, 1);
  const same = run([ev('appeared', 1, 'happy', 1)], new Map([...native, ['b.jpg', 'happy']]));
  assert.deepEqual([same.followable, same.correct, same.followRate], [0, 0, 0]);
  assert.equal(same.trackerFollowable, 1, 'through the detector the two images still differ');
  assert.equal(run([]).untracked, 1);
});

test('attributeTrack: by box overlap and the item\'s frames (its gap included)', () => {
  assert.equal(attributeTrack(truth, ev('appeared', 1, 'happy', 25), 0.3)?.id, 0);
  assert.equal(attributeTrack(truth, ev('appeared', 1, 'happy', 30), 0.3), undefined);
  assert.equal(attributeTrack(truth, ev('appeared', 1, 'fear', 2, S), 0.3)?.id, 1);
});

test('replayTracker: the tracker over recorded frames, on their clock', () => {
  const cfg = { iouThreshold: 0.3, confirmFrames: 2, maxMissingMs: 500, smoothingAlpha: 0.5, minDwellMs: 300, minConfidence: 0.4 };
  const events = replayTracker(frames(), cfg);
  const r = clipReport({ truth, frames: frames(), events, native, framesRead: 30 });
  assert.equal(r.pairs.followed, 1, 'happy -> sad followed');
  assert.equal(r.statics.changes, 0);
  assert.deepEqual(r.events, { appeared: 2, emotion_changed: 1, left: 2 }, 'the one-frame false detection never became a face');
  assert.deepEqual(replayTracker(frames(), cfg), events, 'deterministic');
});

test('why a pair was not followed: detection first, then the classifier through the detector, then the tracker', () => {
  // P's detections: top class per frame (null: not detected); S as in frames().
  const framesWith = (top: (i: number) => Emotion | null): RecordedFrame[] =>
    frames().map((f) => {
      const t = f.index < 20 ? top(f.index) : null;
      const others = f.detections.filter((d) => d.box.x !== inner(P).x);
      return { ...f, detections: t === null ? others : [{ box: inner(P), scores: scores(t) }, ...others] };
    });
  const failure = (events: ClipEvent[], fr = frames()) => {
    const r = clipReport({ truth, frames: fr, events, native, framesRead: 30 });
    return { failure: r.perPair[0]!.failure, counts: r.pairs.failuresCorrect };
  };
  assert.equal(failure([ev('appeared', 1, 'happy', 1), ev('emotion_changed', 1, 'sad', 15)]).failure, null, 'followed');
  const onlyB = framesWith((i) => (i >= 10 ? 'sad' : null));
  assert.equal(failure([ev('appeared', 1, 'sad', 11)], onlyB).failure, 'a-undetected', 'no face was shown while A was');
  assert.equal(failure([ev('appeared', 1, 'happy', 1), ev('left', 1, 'happy', 12), ev('appeared', 2, 'sad', 13)]).failure, 'reappeared');
  assert.equal(failure([ev('appeared', 1, 'surprise', 1)]).failure, 'a-misread');
  const bLost = framesWith((i) => (i < 10 ? 'happy' : i < 14 ? 'sad' : null));
  assert.equal(failure([ev('appeared', 1, 'happy', 1)], bLost).failure, 'b-undetected');
  const bFear = framesWith((i) => (i < 10 ? 'happy' : 'fear'));
  assert.equal(failure([ev('appeared', 1, 'happy', 1), ev('emotion_changed', 1, 'fear', 15)], bFear).failure, 'b-misread');
  assert.equal(failure([ev('appeared', 1, 'happy', 1), ev('emotion_changed', 1, 'sad', 21)]).failure, 'late');
  assert.equal(failure([ev('appeared', 1, 'happy', 1), ev('emotion_changed', 1, 'sad', 14), ev('emotion_changed', 1, 'happy', 18)]).failure, 'unstable');
  const missed = failure([ev('appeared', 1, 'happy', 1)]);
  assert.equal(missed.failure, 'tracker', 'detected and read as natively, yet no change: the change rule missed it');
  assert.equal(missed.counts.tracker, 1);
  assert.equal(Object.values(missed.counts).reduce((a, b) => a + b, 0), 1, 'one failure per pair the classifier gets right');
});
