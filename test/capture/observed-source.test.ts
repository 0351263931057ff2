/** observedSource: the same frames, in order, through the watcher; open/close/description/fps are the inner source's. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { observedSource } from '../../src/capture/observed-source.js';
import type { Frame, FrameSource } from '../../src/capture/types.js';

test('observedSource: every read goes through the watcher, which sees each frame and the end', async () => {
  const calls: string[] = [];
  let n = 0;
  const inner: FrameSource = {
    description: 'fake 3 frames',
    fps: 12.5,
    open: async () => void calls.push('open'),
    close: async () => void calls.push('close'),
    read: async () => (n < 3 ? ({ index: n++ } as unknown as Frame) : null),
  };
  const seen: (number | null)[] = [];
  const s = observedSource(inner, async (read) => {
    const f = await read();
    seen.push(f ? (f as unknown as { index: number }).index : null);
    return f;
  });
  assert.equal(s.description, 'fake 3 frames');
  assert.equal(s.fps, 12.5);
  await s.open();
  const got: (number | null)[] = [];
  for (let i = 0; i < 4; i++) {
    const f = await s.read();
    got.push(f ? (f as unknown as { index: number }).index : null);
  }
  await s.close();
  assert.deepEqual(got, [0, 1, 2, null]);
  assert.deepEqual(seen, got);
  assert.deepEqual(calls, ['open', 'close']);
});
