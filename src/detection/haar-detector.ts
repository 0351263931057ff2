/**
 * Haar-cascade face detection with OpenCV: on a downscaled, histogram-equalised grey copy of the frame, with boxes
 * mapped back to frame pixels. Also cuts the grey face crops the classifier needs, so a frame is converted to grey
 * once. One of the few modules that import @u4/opencv4nodejs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cv, type CascadeClassifier, type Mat } from '../vision/index.js';
import type { Box } from './geometry.js';
import { detectionScale, scaleBoxToFrame } from './geometry.js';

export interface HaarParams {
  scaleFactor: number;
  minNeighbors: number;
  /** Smallest face in frame pixels. */
  minSize: number;
  /** Detect on a copy this wide (0 = full size). */
  downscaleWidth: number;
}

export interface DetectedFace {
  box: Box;
  /** Grey crop resized to the model's input (row-major, cropSize x cropSize bytes). */
  crop: Uint8Array;
}

export class DetectorError extends Error {}

export class HaarFaceDetector {
  private constructor(
    private readonly classifier: CascadeClassifier,
    private readonly params: HaarParams,
    readonly cascadePath: string,
  ) {}

  static load(cascadePath: string, params: HaarParams): HaarFaceDetector {
    if (!existsSync(cascadePath)) {
      throw new DetectorError(`Haar cascade ${cascadePath} not found (detection.cascade in the config)`);
    }
    checkCascadeFile(cascadePath);
    let classifier: CascadeClassifier;
    try {
      classifier = new cv.CascadeClassifier(cascadePath);
    } catch (err) {
      throw new DetectorError(`Haar cascade ${cascadePath} could not be loaded: ${(err as Error).message}`);
    }
    return new HaarFaceDetector(classifier, params, cascadePath);
  }

  /** Finds faces in a BGR frame (boxes in frame pixels) and cuts their grey crops (cropSize x cropSize, INTER_AREA) in one pass. */
  detectAndCrop(frame: Mat, cropSize: number): DetectedFace[] {
    const gray = frame.bgrToGray();
    try {
      return this.detectGray(gray).map((box) => ({ box, crop: cropGray(gray, box, cropSize) }));
    } finally {
      gray.release();
    }
  }

  private detectGray(gray: Mat): Box[] {
    const { scaleFactor, minNeighbors, minSize, downscaleWidth } = this.params;
    const scale = detectionScale(gray.cols, downscaleWidth);
    const small = scale < 1 ? gray.resize(Math.round(gray.rows * scale), Math.round(gray.cols * scale), 0, 0, cv.INTER_AREA) : gray;
    const equalised = small.equalizeHist();
    if (small !== gray) small.release();
    const minSide = Math.max(1, Math.round(minSize * scale));
    const { objects } = this.classifier.detectMultiScale(equalised, scaleFactor, minNeighbors, 0, new cv.Size(minSide, minSide));
    equalised.release();
    return objects.map((r) => scaleBoxToFrame({ x: r.x, y: r.y, width: r.width, height: r.height }, scale, gray.cols, gray.rows));
  }
}

/**
 * OpenCV aborts the whole process (an uncaught C++ exception) on a malformed cascade file, so its structure is
 * checked here first: an OpenCV storage XML, complete, holding a cascade.
 */
export function checkCascadeFile(file: string): void {
  const text = readFileSync(file, 'latin1');
  const complete = /<opencv_storage>/.test(text.slice(0, 8192)) && /<\/opencv_storage>\s*$/.test(text.slice(-256));
  const cascade = /<cascade\b|opencv-haar-classifier|opencv-cascade-classifier/.test(text.slice(0, 65536));
  if (!complete || !cascade) {
    throw new DetectorError(`Haar cascade ${file} is not a complete OpenCV cascade XML (${!complete ? 'truncated or not OpenCV storage' : 'no cascade in it'})`);
  }
}

/** A grey region resized to size x size with area interpolation, as bytes. */
export function cropGray(gray: Mat, box: Box, size: number): Uint8Array {
  const roi = gray.getRegion(new cv.Rect(box.x, box.y, Math.max(1, box.width), Math.max(1, box.height)));
  const resized = roi.resize(size, size, 0, 0, cv.INTER_AREA);
  const bytes = new Uint8Array(resized.getData());
  resized.release();
  roi.release();
  return bytes;
}

/** Reads an image file as grey and resizes it to size x size exactly as runtime crops are (for `evaluate`). */
export function loadGrayImage(file: string, size: number): Uint8Array {
  let img: Mat;
  try {
    img = cv.imread(file, cv.IMREAD_GRAYSCALE);
  } catch (err) {
    throw new DetectorError(`cannot read image ${file}: ${(err as Error).message}`);
  }
  if (img.empty) throw new DetectorError(`cannot read image ${file}: not a decodable image`);
  try {
    return cropGray(img, { x: 0, y: 0, width: img.cols, height: img.rows }, size);
  } finally {
    img.release();
  }
}
