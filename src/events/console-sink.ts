/** Prints events to a stream: one readable line each, or one JSON object per line (JSONL) for scripts. */
import type { EventSink, FaceEvent } from './types.js';

export function formatEventLine(ev: FaceEvent): string {
  const time = new Date(ev.timestamp).toISOString().slice(11, 23);
  const what =
    ev.type === 'emotion_changed' ? `${ev.previousEmotion ?? '?'} -> ${ev.emotion}` : ev.emotion;
  const b = ev.box;
  return `${time} face#${ev.faceId} ${ev.type.padEnd(15)} ${what.padEnd(18)} ${(ev.confidence * 100).toFixed(0).padStart(3)}%  box ${b.x},${b.y} ${b.width}x${b.height}  frame ${ev.frameIndex}`;
}

export function createConsoleSink(out: NodeJS.WritableStream, format: 'text' | 'json'): EventSink {
  return {
    name: 'console',
    onEvent(ev) {
      out.write((format === 'json' ? JSON.stringify(ev) : formatEventLine(ev)) + '\n');
    },
  };
}
