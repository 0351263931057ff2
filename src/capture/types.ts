/**
 * Frame sources: everything the kiosk can read pictures from sits behind this interface.
 *
 * NOTE for all OpenCV code: import `cv` from '../vision/opencv.js', never '@u4/opencv4nodejs' directly (its ES-module
 * entry fails with a system OpenCV, and it prints its start-up log to stdout).
 */
import type { Mat } from '../vision/index.js';

export interface Frame {
  /** BGR, 8-bit, 3 channels. Owned by the consumer after read(). */
  mat: Mat;
  /** Epoch ms when the frame was captured (or decoded, for files): the wall clock. */
  timestamp: number;
  /**
   * Video files only: the frame's time on the clip's own clock (ms; its position in the file as the decoder reports it, or
   * index / fps), increasing across loops. The tracker's time rules (dwell, missing) use it, so a clip gives the same
   * events however fast this machine decodes it. Live sources leave it out: their clock is the wall clock.
   */
  mediaMs?: number;
  /** 0-based, counting from open(). */
  index: number;
}

export interface FrameSource {
  /** Human-readable: what was opened (e.g. "file /path/x.avi", "V4L2 /dev/video0", "rpicam-vid 640x480@15"). */
  readonly description: string;
  /** Frame rate the source reports, if any (files and cameras usually do). */
  readonly fps: number | undefined;
  /** Opens the device/file/process. Throws SourceError with what was tried when it cannot. */
  open(): Promise<void>;
  /** The next frame; null at the end of a finite source (file). Throws SourceError when the source fails. */
  read(): Promise<Frame | null>;
  close(): Promise<void>;
}

/** The camera as telemetry reports it (ResilientFrameSource.cameraStats()). */
export interface CameraStats {
  state: 'connected' | 'reconnecting' | 'failed';
  reconnects: number;
  droppedFrames: number;
}

export class SourceError extends Error {
  constructor(
    message: string,
    /** True when trying again later may help (camera unplugged, stream dropped), false for e.g. a missing file. */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}
