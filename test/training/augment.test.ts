import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyAugment, DEFAULT_AUGMENT, drawAugment, NO_AUGMENT, normalizeInto } from '../../src/training/augment.js';
import { mixSeed, Rng } from '../../src/util/rng.js';

const SIZE = 48;
function gradientImage(): Uint8Array {
  const img = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) img[y * SIZE + x] = (x * 5 + y * 2) % 256;
  return img;
}

function augmentOnce(img: Uint8Array, seed: number): Float32Array {
  const out = new Float32Array(SIZE * SIZE);
  applyAugment(img, SIZE, drawAugment(new Rng(seed), DEFAULT_AUGMENT, SIZE), out, 0, 0.5, 0.25);
  return out;
}

test('augmentation is deterministic under a seed and differs across seeds', () => {
  const img = gradientImage();
  const a = augmentOnce(img, mixSeed(42, 3, 17));
  const b = augmentOnce(img, mixSeed(42, 3, 17));
  const c = augmentOnce(img, mixSeed(42, 4, 17));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('the identity draw reproduces the normalised input; flip mirrors it', () => {
  const img = gradientImage();
  const d = drawAugment(new Rng(1), NO_AUGMENT, SIZE);
  const out = new Float32Array(SIZE * SIZE);
  applyAugment(img, SIZE, d, out, 0, 0.5, 0.25);
  const ref = new Float32Array(SIZE * SIZE);
  normalizeInto(img, SIZE, ref, 0, 0.5, 0.25);
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(out[i]! - ref[i]!) < 1e-5);
  applyAugment(img, SIZE, { ...d, flip: true }, out, 0, 0.5, 0.25);
  normalizeInto(img, SIZE, ref, 0, 0.5, 0.25, true);
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(out[i]! - ref[i]!) < 1e-5);
  assert.ok(Math.abs(ref[0]! - (img[SIZE - 1]! / 255 - 0.5) / 0.25) < 1e-6);
});

test('draws stay within the configured ranges and flips about half the time', () => {
  const rng = new Rng(9);
  let flips = 0;
  for (let i = 0; i < 2000; i++) {
    const d = drawAugment(rng, DEFAULT_AUGMENT, SIZE);
    assert.ok(Math.abs(d.angle) <= (DEFAULT_AUGMENT.rotateDeg * Math.PI) / 180);
    assert.ok(d.scale >= DEFAULT_AUGMENT.scaleMin && d.scale <= DEFAULT_AUGMENT.scaleMax);
    assert.ok(Math.abs(d.tx) <= DEFAULT_AUGMENT.translate * SIZE && Math.abs(d.ty) <= DEFAULT_AUGMENT.translate * SIZE);
    assert.ok(Math.abs(d.brightness) <= DEFAULT_AUGMENT.brightness);
    if (d.flip) flips++;
  }
  assert.ok(flips > 900 && flips < 1100, `${flips} flips of 2000`);
});

test('a pure translation moves the content by whole pixels', () => {
  const img = new Uint8Array(SIZE * SIZE);
  img[20 * SIZE + 20] = 255;
  const out = new Float32Array(SIZE * SIZE);
  applyAugment(img, SIZE, { angle: 0, scale: 1, tx: 3, ty: -2, flip: false, brightness: 0, contrast: 1 }, out, 0, 0, 1);
  let best = -1;
  let at = -1;
  out.forEach((v, i) => {
    if (v > best) {
      best = v;
      at = i;
    }
  });
  assert.equal(at, 18 * SIZE + 23);
  assert.ok(Math.abs(best - 1) < 1e-6);
});
