/** Frame sources: everything the kiosk can read pictures from sits behind this interface. */
import type { Mat } from '@u4/opencv4nodejs';

export interface Frame {
  /** BGR, 8-bit, 3 channels. Owned by the consumer after read(). */
  mat: Mat;
  /** Epoch ms when the frame was captured (or decoded, for files). */
  timestamp: number;
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
