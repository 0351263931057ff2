/** Tracked-face views for display tests: what the pipeline hands the overlay (box, emotion, confidence, scores). */
import type { TrackedFaceView } from '../../src/events/types.js';
import { EMOTIONS } from '../../src/model/labels.js';

export function face(faceId: number, emotion: TrackedFaceView['emotion'], confidence: number, box: TrackedFaceView['box']): TrackedFaceView {
  const scores = Object.fromEntries(EMOTIONS.map((e) => [e, e === emotion ? confidence : (1 - confidence) / 6])) as TrackedFaceView['scores'];
  return { faceId, box, emotion, confidence, scores, firstSeen: 0 };
}

export const MEGAMIND = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
