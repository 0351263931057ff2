/**
 * Real-time pacing for video files (camera.realtime): frame n of a file at `fps` is due `n / fps` seconds after
 * playback started. Pure: the caller supplies the clock.
 */
export class FramePacer {
  private startMs: number | undefined;
  private frames = 0;

  constructor(private readonly fps: number) {
    if (!(fps > 0) || !Number.isFinite(fps)) throw new RangeError(`fps must be a positive number, got ${fps}`);
  }

  /**
   * Milliseconds to wait before delivering the next frame, given the time now. When playback fell more than one frame
   * behind (a slow consumer, a paused process) the clock is re-anchored instead of bursting frames to catch up.
   */
  delayBeforeNext(nowMs: number): number {
    const interval = 1000 / this.fps;
    if (this.startMs === undefined) {
      this.startMs = nowMs;
      this.frames = 1;
      return 0;
    }
    const due = this.startMs + this.frames * interval;
    this.frames++;
    if (nowMs - due > interval) {
      this.startMs = nowMs;
      this.frames = 1;
      return 0;
    }
    return Math.max(0, due - nowMs);
  }

  /** Starts over (after a loop back to the first frame). */
  reset(): void {
    this.startMs = undefined;
    this.frames = 0;
  }
}
