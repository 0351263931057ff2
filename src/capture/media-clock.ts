/**
 * The media clock of a video file: each frame's time on the clip's own clock, so that what depends on time (the
 * tracker's dwell and missing rules) depends on the clip alone, not on how fast this machine decodes it. Pure.
 *
 * A frame's time is its position in the file as the decoder reports it (OpenCV's CAP_PROP_POS_MSEC), or, where that
 * is missing, not a number or not increasing, the previous frame's time plus one frame interval (index / fps). After
 * a loop back to the start the clock goes on from one interval after the last frame: it never goes backwards.
 */
export class MediaClock {
  private base = 0;
  private last: number | undefined;
  /** Set by loop(): the last frame's time before the file started over. */
  private beforeLoop: number | undefined;

  constructor(private readonly frameMs: number) {
    if (!(frameMs > 0) || !Number.isFinite(frameMs)) throw new RangeError(`frame interval must be a positive number of ms, got ${frameMs}`);
  }

  /** The time (ms) of the frame just decoded, given the position the decoder reports for it. */
  next(positionMs: number | undefined): number {
    const valid = positionMs !== undefined && Number.isFinite(positionMs) && positionMs >= 0;
    if (this.beforeLoop !== undefined) {
      // The first frame of a new pass comes one interval after the last one; later positions count from its own.
      const t = this.beforeLoop + this.frameMs;
      this.base = valid ? t - positionMs : t;
      this.beforeLoop = undefined;
      this.last = t;
      return t;
    }
    let t = valid ? this.base + positionMs : this.last === undefined ? this.base : this.last + this.frameMs;
    if (this.last !== undefined && !(t > this.last)) t = this.last + this.frameMs;
    this.last = t;
    return t;
  }

  /** The file starts over: positions count from the start again, the clock goes on. */
  loop(): void {
    if (this.last !== undefined) this.beforeLoop = this.last;
  }
}
