/** FER2013's seven classes, in its label order 0..6. The model manifest repeats them; this is the reference. */
export const EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export type Emotion = (typeof EMOTIONS)[number];
export type EmotionScores = Record<Emotion, number>;

export function isEmotion(s: string): s is Emotion {
  return (EMOTIONS as readonly string[]).includes(s);
}

/** Turns a probability vector (in manifest label order) into a label -> score record. */
export function scoresFromVector(labels: readonly Emotion[], probs: ArrayLike<number>): EmotionScores {
  const out = {} as EmotionScores;
  for (const e of EMOTIONS) out[e] = 0;
  labels.forEach((label, i) => {
    out[label] = probs[i] ?? 0;
  });
  return out;
}

/** The label with the highest score, and that score. */
export function topEmotion(scores: EmotionScores): { emotion: Emotion; confidence: number } {
  let best: Emotion = 'neutral';
  let conf = -Infinity;
  for (const e of EMOTIONS) {
    if (scores[e] > conf) {
      conf = scores[e];
      best = e;
    }
  }
  return { emotion: best, confidence: conf };
}
