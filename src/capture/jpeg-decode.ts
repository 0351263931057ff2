/** JPEG bytes -> BGR Mat with OpenCV (libjpeg), for the Raspberry Pi camera sources. */
import type { Logger } from '../util/index.js';
import { cv, type Mat } from '../vision/index.js';
import { SourceError, type Frame } from './types.js';

/** Decodes one JPEG to a BGR 8UC3 Mat; throws an Error saying why when the bytes are not a decodable image. */
export function decodeJpeg(jpeg: Buffer): Mat {
  let mat: Mat;
  try {
    mat = cv.imdecode(jpeg, cv.IMREAD_COLOR);
  } catch (err) {
    throw new Error(`cannot decode a ${jpeg.length}-byte JPEG frame: ${String((err as Error)?.message ?? err)}`);
  }
  if (mat.empty) throw new Error(`cannot decode a ${jpeg.length}-byte JPEG frame (corrupt or truncated)`);
  return mat;
}

export interface DecodableReader<J> {
  /** Names the source in messages. */
  description: string;
  logger: Logger;
  /** Undecodable frames in a row before giving up. */
  maxBad: number;
  /** The next JPEG (throws on a stall). */
  next: () => Promise<J>;
  decode: (jpeg: J) => Frame;
  /** Stops the camera program before the give-up error is thrown. */
  stop: () => Promise<void>;
}

/**
 * The next decodable frame of a camera program's JPEG stream: undecodable frames are skipped (logged at debug); after
 * `maxBad` of them in a row the camera is stopped and a retryable SourceError is thrown (the resilient source restarts it).
 */
export async function readDecodable<J>(r: DecodableReader<J>): Promise<Frame> {
  for (let bad = 1; ; bad++) {
    const jpeg = await r.next();
    try {
      return r.decode(jpeg);
    } catch (err) {
      r.logger.debug(`${r.description}: skipped a frame: ${(err as Error).message}`);
      if (bad >= r.maxBad) {
        await r.stop();
        throw new SourceError(`${r.description}: ${bad} undecodable frames in a row (last: ${(err as Error).message})`, true);
      }
    }
  }
}
