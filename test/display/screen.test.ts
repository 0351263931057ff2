import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWmCheck, parseXdpyinfoDimensions } from '../../src/display/screen.js';

test('screen size from xdpyinfo', () => {
  const text = 'name of display:    :0\nscreen #0:\n  dimensions:    1920x1080 pixels (508x285 millimeters)\n  resolution:    96x96 dots per inch\n';
  assert.deepEqual(parseXdpyinfoDimensions(text), { width: 1920, height: 1080 });
  assert.equal(parseXdpyinfoDimensions('xdpyinfo:  unable to open display ":9".'), undefined);
});

test('window manager presence from xprop', () => {
  assert.equal(parseWmCheck('_NET_SUPPORTING_WM_CHECK(WINDOW): window id # 0x1e00008\n'), true);
  assert.equal(parseWmCheck('_NET_SUPPORTING_WM_CHECK:  not found.\n'), false);
});
