/**
 * A frame source whose reads someone watches (the clip evaluation records each frame it hands on; the pipeline bench
 * times the wait for a frame): the same source, with `read` going through `around`.
 */
import type { Frame, FrameSource } from './types.js';

export function observedSource(inner: FrameSource, around: (read: () => Promise<Frame | null>) => Promise<Frame | null>): FrameSource {
  return {
    get description() {
      return inner.description;
    },
    get fps() {
      return inner.fps;
    },
    open: () => inner.open(),
    close: () => inner.close(),
    read: () => around(() => inner.read()),
  };
}
