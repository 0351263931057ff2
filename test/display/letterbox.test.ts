/** The full-screen canvas: the frame centred on black bars of the screen's shape (src/display/letterbox.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { letterbox } from '../../src/display/letterbox.js';

test('a 4:3-ish frame on a 16:9 screen gets bars left and right; a wide frame on a 4:3 screen, above and below', () => {
  // Megamind (720x528) on cage's headless output (1280x720): 938.67 -> 939 wide, the frame at x 109.
  assert.deepEqual(letterbox({ width: 720, height: 528 }, { width: 1280, height: 720 }), { canvas: { width: 939, height: 528 }, x: 109, y: 0 });
  assert.deepEqual(letterbox({ width: 1280, height: 720 }, { width: 1024, height: 768 }), { canvas: { width: 1280, height: 960 }, x: 0, y: 120 });
  assert.deepEqual(letterbox({ width: 640, height: 480 }, { width: 1920, height: 1080 }), { canvas: { width: 853, height: 480 }, x: 106, y: 0 });
});

test('the screen shape already (at any scale): no canvas; unusable sizes: none either', () => {
  assert.equal(letterbox({ width: 640, height: 480 }, { width: 1024, height: 768 }), undefined);
  assert.equal(letterbox({ width: 1280, height: 720 }, { width: 1920, height: 1080 }), undefined);
  assert.equal(letterbox({ width: 0, height: 480 }, { width: 1024, height: 768 }), undefined);
  assert.equal(letterbox({ width: 640, height: 480 }, { width: 1024.5, height: 768 }), undefined);
});

test('never smaller than the frame, the frame always inside', () => {
  for (const [fw, fh, sw, sh] of [[720, 528, 800, 480], [333, 777, 1920, 1080], [1920, 1080, 480, 800], [1, 1, 3, 1]] as const) {
    const b = letterbox({ width: fw, height: fh }, { width: sw, height: sh })!;
    assert.ok(b.canvas.width >= fw && b.canvas.height >= fh, `${fw}x${fh} on ${sw}x${sh}`);
    assert.ok(b.x + fw <= b.canvas.width && b.y + fh <= b.canvas.height);
    assert.ok(Math.abs(b.canvas.width / b.canvas.height - sw / sh) < 2 / Math.min(b.canvas.width, b.canvas.height) + 1e-9, 'the screen shape, to the pixel');
  }
});
