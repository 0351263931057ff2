/** Real test material for capture tests: JPEG frames cut from opencv-doc's Megamind.avi with OpenCV. */
import { cv } from '../../src/vision/opencv.js';

export const MEGAMIND = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';

/** `count` JPEGs of consecutive Megamind frames (from `first`), resized to width x height. */
export function megamindJpegs(count: number, width: number, height: number, first = 40, params: number[] = []): Buffer[] {
  const cap = new cv.VideoCapture(MEGAMIND, cv.CAP_FFMPEG);
  try {
    for (let i = 0; i < first; i++) cap.read();
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const mat = cap.read();
      if (mat.empty) throw new Error(`Megamind.avi ended before frame ${first + i}`);
      out.push(cv.imencode('.jpg', mat.resize(height, width), params));
    }
    return out;
  } finally {
    cap.release();
  }
}

/**
 * A JPEG with an EXIF-style APP1 segment that carries a complete thumbnail JPEG (its own FF D8 … FF D9), as raspistill
 * writes by default: a splitter that stops at the first FF D9 cuts the frame inside the thumbnail.
 */
export function withEmbeddedThumbnail(jpeg: Buffer, thumbnail: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), thumbnail]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}
