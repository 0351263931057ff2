/** JPEG bytes -> BGR Mat with OpenCV (libjpeg), for the Raspberry Pi camera sources. */
import { cv, type Mat } from '../vision/opencv.js';

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
