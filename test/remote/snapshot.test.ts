/** snapshot: a JPEG at most maxWidth wide with the detected faces pixelated; the detector tap takes it from the next detected frame. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { HaarFaceDetector } from '../../src/detection/haar-detector.js';
import { PausableDetector } from '../../src/remote/kiosk-host.js';
import { snapshotJpeg } from '../../src/remote/snapshot.js';
import { defaultCascadePath } from '../../src/util/paths.js';
import { cv, type Mat } from '../../src/vision/opencv.js';

const VIDEO = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';

function frameWithFace(): { frame: Mat; boxes: { x: number; y: number; width: number; height: number }[] } {
  const cap = new cv.VideoCapture(VIDEO);
  const det = HaarFaceDetector.load(defaultCascadePath, configSchema.parse({}).detection);
  for (let i = 0; i < 270; i++) {
    const f = cap.read();
    if (f.empty) break;
    const boxes = det.detectAndCrop(f, 48).map((d) => d.box);
    if (i >= 100 && boxes.length > 0) return { frame: f, boxes };
  }
  throw new Error('no frame with a face in Megamind.avi');
}

/** Standard deviation of the grey pixels inside a box (scaled to the snapshot). */
function spread(img: Mat, b: { x: number; y: number; width: number; height: number }): number {
  const roi = img.bgrToGray().getRegion(new cv.Rect(Math.round(b.x), Math.round(b.y), Math.round(b.width), Math.round(b.height)));
  return roi.meanStdDev().stddev.at(0, 0);
}

test('snapshotJpeg: at most maxWidth wide, the face mosaicked (its detail gone), the frame itself untouched', () => {
  const { frame, boxes } = frameWithFace();
  const before = frame.copy();
  const box = boxes[0]!;
  const scale = 640 / frame.cols;
  // a block of the face's middle (inside one mosaic cell grid: detail is gone there)
  const inner = { x: (box.x + box.width * 0.3) * scale, y: (box.y + box.height * 0.3) * scale, width: box.width * 0.12 * scale, height: box.height * 0.12 * scale };
  const blurred = cv.imdecode(snapshotJpeg(frame, boxes, { blurFaces: true, maxWidth: 640 }));
  const plain = cv.imdecode(snapshotJpeg(frame, boxes, { blurFaces: false, maxWidth: 640 }));
  assert.equal(blurred.cols, 640);
  assert.equal(Math.round(frame.rows * scale), blurred.rows);
  const sBlurred = spread(blurred, inner);
  const sPlain = spread(plain, inner);
  assert.ok(sBlurred < sPlain / 2, `face detail: ${sBlurred.toFixed(1)} pixelated vs ${sPlain.toFixed(1)} plain`);
  assert.equal(frame.absdiff(before).bgrToGray().countNonZero(), 0, 'the pipeline\'s frame is not changed');
  const small = cv.imdecode(snapshotJpeg(frame, boxes, { blurFaces: true, maxWidth: 320 }));
  assert.equal(small.cols, 320);
});

test('the detector tap: a snapshot comes from the next detected frame, with faces detected even while paused; paused still reports none', async () => {
  const box = { x: 1, y: 2, width: 10, height: 10 };
  const calls: number[] = [];
  const d = new PausableDetector<string>({ detectAndCrop: () => (calls.push(1), [{ box, crop: new Uint8Array(1) }]) }, (frame, faces, o) => Buffer.from(`${frame}:${faces.length}:${o.maxWidth}`));
  d.enabled = false;
  assert.deepEqual(d.detectAndCrop('f0', 48), []);
  assert.equal(calls.length, 0, 'paused: the detector does not run');
  const p = d.snapshot({ blurFaces: true, maxWidth: 640 });
  assert.deepEqual(d.detectAndCrop('f1', 48), [], 'paused: no faces reach the pipeline');
  assert.equal((await p)!.toString(), 'f1:1:640');
  d.enabled = true;
  assert.equal(d.detectAndCrop('f2', 48).length, 1);
  assert.equal(await new PausableDetector<string>({ detectAndCrop: () => [] }).snapshot({ blurFaces: true, maxWidth: 640 }), null, 'no encoder: null');
});

test('snapshotJpeg releases every Mat it makes (a copy, each face\'s region and mosaic, the resized image): none is left to the GC', () => {
  const { frame, boxes } = frameWithFace();
  const made: Mat[] = [];
  const proto = Object.getPrototypeOf(frame) as Record<string, (...a: unknown[]) => unknown>;
  const spied = ['copy', 'getRegion', 'resize'] as const;
  const originals = spied.map((name) => proto[name]!);
  spied.forEach((name, i) => {
    proto[name] = function (this: Mat, ...a: unknown[]) {
      const m = originals[i]!.apply(this, a) as Mat;
      made.push(m);
      return m;
    };
  });
  try {
    snapshotJpeg(frame, boxes, { blurFaces: true, maxWidth: 640 });
  } finally {
    spied.forEach((name, i) => (proto[name] = originals[i]!));
  }
  assert.ok(made.length >= 2 + 3 * boxes.length, `${made.length} Mats made for ${boxes.length} faces`);
  assert.deepEqual(made.map((m) => Boolean(m.empty)), made.map(() => true), 'every Mat made by the snapshot is released');
  assert.ok(!frame.empty, 'the pipeline\'s frame is not released');
  frame.release();
});
