/**
 * Frame sources read with OpenCV's VideoCapture: V4L2 cameras (index or /dev/video*), video files, recorded image
 * sequences (OpenCV's image-sequence capture: imread, so PNG frames replay bit-exact on any machine), network streams
 * (FFmpeg backend) and GStreamer pipelines. Files and image sequences are finite and carry the media clock; an image
 * sequence has no frame rate of its own, so its rate is camera.fps. open() reads the first frame, so a device that opens but delivers nothing
 * (unknown index, corrupt file) fails at start with a message naming what was tried.
 */
import { cv, type Mat, type VideoCapture } from '../vision/index.js';
import { type Logger, redactSecrets } from '../util/index.js';
import { MediaClock } from './media-clock.js';
import { FramePacer } from './pacing.js';
import { SourceError, type Frame, type FrameSource } from './types.js';

export type OpenCvTarget =
  | { kind: 'camera'; index: number | undefined; device: string }
  | { kind: 'file'; path: string }
  | { kind: 'images'; pattern: string }
  | { kind: 'url'; url: string; redacted: string }
  | { kind: 'gstreamer'; pipeline: string };

export interface OpenCvSourceOptions {
  target: OpenCvTarget;
  /** Camera: requested size and rate. Files: `realtime` and `loop`; `fps` is the pace when a file has no rate. */
  camera: { width: number; height: number; fps: number; realtime: boolean; loop: boolean };
  /** Extra sentence for errors (what to check). */
  hint: (what: string) => string;
  logger: Logger;
  /**
   * Live sources (camera, stream, pipeline): a read that takes longer than this is a stalled device and fails
   * (retryable). OpenCV cannot cancel a blocked read, so that capture is abandoned and released when the read returns.
   * Default 10 s; the first frame gets `firstFrameTimeoutMs` (default 20 s: network streams and sensors start slowly).
   */
  stallTimeoutMs?: number;
  firstFrameTimeoutMs?: number;
  /**
   * Network streams: FFmpeg's I/O timeout (rw_timeout), default 5 s. OpenCV opens a stream synchronously, so an
   * unresponsive camera would otherwise freeze the whole process (MQTT, display) for OpenCV's 30 s default on every
   * reconnect attempt. Not applied when the operator set OPENCV_FFMPEG_CAPTURE_OPTIONS (put rw_timeout in it).
   */
  networkTimeoutMs?: number;
}

export class OpenCvFrameSource implements FrameSource {
  readonly description: string;
  private cap: VideoCapture | undefined;
  private pending: Mat | undefined;
  /** The decoder's position (ms) of the pending first frame. */
  private pendingPositionMs: number | undefined;
  /** Files: frame times from the file itself (Frame.mediaMs). */
  private mediaClock: MediaClock | undefined;
  private index = 0;
  private pacer: FramePacer | undefined;
  private reading: Promise<Mat> | undefined;
  private closed = false;
  private _fps: number | undefined;

  constructor(private readonly options: OpenCvSourceOptions) {
    this.description = describeTarget(options.target);
  }

  get fps(): number | undefined {
    return this._fps;
  }

  async open(): Promise<void> {
    const { target, camera, logger } = this.options;
    const finite = isFiniteSource(target);
    this.closed = false;
    this.index = 0;
    let cap: VideoCapture;
    try {
      cap = this.createCapture();
    } catch (err) {
      const timeout = target.kind === 'url' && process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS === undefined ? ` within ${this.networkTimeoutMs / 1000} s` : '';
      throw new SourceError(`cannot open ${this.description}: OpenCV could not open it${timeout} (${errorText(err)}); ${this.options.hint(this.description)}`, !finite);
    }
    this.cap = cap;
    if (target.kind === 'camera') {
      cap.set(cv.CAP_PROP_FRAME_WIDTH, camera.width);
      cap.set(cv.CAP_PROP_FRAME_HEIGHT, camera.height);
      cap.set(cv.CAP_PROP_FPS, camera.fps);
    }
    let first: Mat;
    try {
      first = await this.readMat(cap, this.options.firstFrameTimeoutMs ?? 20_000);
    } catch (err) {
      this.abandonOrRelease(cap);
      throw new SourceError(`${this.description} opened but reading its first frame failed (${errorText(err)}); ${this.options.hint(this.description)}`, !finite);
    }
    if (first.empty) {
      cap.release();
      this.cap = undefined;
      const what =
        target.kind === 'file'
          ? 'opened but its first frame cannot be decoded (corrupt or unsupported video)'
          : target.kind === 'images'
            ? 'opened but its first image cannot be decoded'
            : 'opened but delivered no frame';
      throw new SourceError(`${this.description} ${what}; ${this.options.hint(this.description)}`, !finite);
    }
    this.pendingPositionMs = this.position(cap);
    this.pending = toBgr(first);
    // Image sequences have no rate (OpenCV reports 1 fps for them): camera.fps is theirs.
    const reported = target.kind === 'images' ? NaN : cap.get(cv.CAP_PROP_FPS);
    this._fps = Number.isFinite(reported) && reported > 0 && reported < 1000 ? reported : undefined;
    this.mediaClock = finite ? new MediaClock(1000 / (this._fps ?? camera.fps)) : undefined;
    if (finite && camera.realtime) this.pacer = new FramePacer(this._fps ?? camera.fps);
    logger.info(
      `opened ${this.description}: ${first.cols}x${first.rows}` +
        (this._fps !== undefined ? ` @ ${round(this._fps)} fps` : '') +
        (target.kind === 'camera' && (first.cols !== camera.width || first.rows !== camera.height)
          ? ` (asked for ${camera.width}x${camera.height}: the camera chose its nearest mode)`
          : '') +
        (target.kind === 'images' ? ` (${cap.get(cv.CAP_PROP_FRAME_COUNT)} images, ${camera.fps} fps from camera.fps)` : '') +
        (this.pacer ? ', paced in real time' : '') +
        (finite && camera.loop ? ', looping' : ''),
    );
  }

  async read(): Promise<Frame | null> {
    if (this.closed) return null;
    let cap = this.cap;
    if (!cap) throw new SourceError(`${this.description} is not open (not opened yet, or closed after a failure)`, false);
    let mat = this.pending;
    let positionMs = this.pendingPositionMs;
    this.pending = undefined;
    this.pendingPositionMs = undefined;
    if (!mat) {
      try {
        mat = await this.readMat(cap, this.options.stallTimeoutMs ?? 10_000);
      } catch (err) {
        if (this.cap === cap) this.abandonOrRelease(cap);
        throw err;
      }
      if (mat.empty) {
        if (this.closed) return null;
        const { target, camera, logger } = this.options;
        if (!isFiniteSource(target)) {
          throw new SourceError(`${this.description} stopped delivering frames after ${this.index} (unplugged, stream dropped or pipeline ended)`, true);
        }
        if (!camera.loop) return null;
        mat.release();
        logger.debug(`${this.description}: end after ${this.index} frames, looping`);
        if (target.kind === 'images') {
          // reset() would reopen with CAP_ANY (FFmpeg's image2 demuxer, another decoder): a fresh image-sequence capture.
          cap.release();
          cap = this.createCapture();
          this.cap = cap;
        } else cap.reset();
        this.pacer?.reset();
        this.mediaClock?.loop();
        mat = await this.readMat(cap, this.options.stallTimeoutMs ?? 10_000);
        if (mat.empty) throw new SourceError(`${this.description}: no frame after looping back to the start`, false);
      }
      if (this.mediaClock) positionMs = this.position(cap);
      mat = toBgr(mat);
    }
    if (this.pacer) {
      const wait = this.pacer.delayBeforeNext(Date.now());
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const frame: Frame = { mat, timestamp: Date.now(), index: this.index++ };
    if (this.mediaClock) frame.mediaMs = this.mediaClock.next(positionMs);
    return frame;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pending = undefined;
    const cap = this.cap;
    this.cap = undefined;
    if (cap) this.abandonOrRelease(cap);
  }

  /** Releases the capture now, or (while a read is blocked inside OpenCV) as soon as that read returns. */
  private abandonOrRelease(cap: VideoCapture): void {
    if (this.cap === cap) this.cap = undefined;
    const reading = this.reading;
    if (!reading) {
      cap.release();
      return;
    }
    this.options.logger.debug(`${this.description}: a read is still running inside OpenCV; releasing the capture when it returns`);
    void reading.then(
      () => cap.release(),
      () => cap.release(),
    );
  }

  /** Files: the decoder's position (ms) of the frame just read. Image sequences have none (index / fps is their clock). */
  private position(cap: VideoCapture): number | undefined {
    return this.options.target.kind === 'file' ? cap.get(cv.CAP_PROP_POS_MSEC) : undefined;
  }

  private get networkTimeoutMs(): number {
    return this.options.networkTimeoutMs ?? 5_000;
  }

  private async readMat(cap: VideoCapture, timeoutMs: number): Promise<Mat> {
    const live = !isFiniteSource(this.options.target);
    const reading = cap.readAsync();
    this.reading = reading;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (!live) return await reading;
      return await Promise.race([
        reading,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new SourceError(`${this.description}: no frame for ${(timeoutMs / 1000).toFixed(1)} s (device stalled or stream stopped sending)`, true)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      if (err instanceof SourceError) throw err;
      throw new SourceError(`${this.description}: reading a frame failed (${errorText(err)})`, live);
    } finally {
      clearTimeout(timer);
      // A read that lost the race stays registered until it really returns, so the capture is not released under it.
      void reading.then(
        () => this.reading === reading && (this.reading = undefined),
        () => this.reading === reading && (this.reading = undefined),
      );
    }
  }

  private createCapture(): VideoCapture {
    const t = this.options.target;
    switch (t.kind) {
      case 'camera': {
        const api = process.platform === 'linux' ? cv.CAP_V4L2 : cv.CAP_ANY;
        return t.index !== undefined ? new cv.VideoCapture(t.index, api) : new cv.VideoCapture(t.device, api);
      }
      case 'file':
        return new cv.VideoCapture(t.path, cv.CAP_FFMPEG);
      case 'images':
        return new cv.VideoCapture(t.pattern, cv.CAP_IMAGES);
      case 'url': {
        if (process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS !== undefined) return new cv.VideoCapture(t.url, cv.CAP_FFMPEG);
        // OpenCV reads this variable when it opens a capture: set it for this open only.
        process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS = `rw_timeout;${Math.round(this.networkTimeoutMs * 1000)}`;
        try {
          return new cv.VideoCapture(t.url, cv.CAP_FFMPEG);
        } finally {
          delete process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS;
        }
      }
      case 'gstreamer':
        return new cv.VideoCapture(t.pipeline, cv.CAP_GSTREAMER);
    }
  }
}

export function describeTarget(t: OpenCvTarget): string {
  switch (t.kind) {
    case 'camera':
      return t.index !== undefined ? `V4L2 camera index ${t.index} (${t.device})` : `V4L2 camera ${t.device}`;
    case 'file':
      return `video file ${t.path} (FFmpeg backend)`;
    case 'images':
      return `image sequence ${t.pattern}`;
    case 'url':
      return `network stream ${t.redacted} (FFmpeg backend)`;
    case 'gstreamer':
      return `GStreamer pipeline "${redactSecrets(t.pipeline)}"`;
  }
}

/** Files and image sequences: finite, on their own (media) clock, never stalled; the others are live. */
function isFiniteSource(t: OpenCvTarget): boolean {
  return t.kind === 'file' || t.kind === 'images';
}

/**
 * Frames are BGR 8UC3 by contract; grey or BGRA sources are converted, and the original is released at once (V8 does
 * not see a Mat's pixels, so nothing would prompt a garbage collection to free it).
 */
export function toBgr(mat: Mat): Mat {
  if (mat.type === cv.CV_8UC3) return mat;
  const code = mat.type === cv.CV_8UC1 ? cv.COLOR_GRAY2BGR : mat.type === cv.CV_8UC4 ? cv.COLOR_BGRA2BGR : undefined;
  if (code !== undefined) {
    const bgr = mat.cvtColor(code);
    mat.release();
    return bgr;
  }
  const message = `unsupported frame format (OpenCV type ${mat.type}, ${mat.channels} channels); expected 8-bit BGR`;
  mat.release();
  throw new SourceError(message, false);
}

/** opencv4nodejs throws plain strings ("VideoCapture::New - failed to open capture"). */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
