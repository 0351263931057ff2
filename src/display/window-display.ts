/** The kiosk window as the pipeline's display port: the overlay (boxes, emotion, confidence, fps) drawn on each frame. */
import type { DisplayPort } from '../pipeline/index.js';
import type { KioskWindow } from './kiosk-window.js';
import { drawOverlay } from './overlay.js';

export class WindowDisplay implements DisplayPort {
  constructor(private readonly window: KioskWindow) {}

  show(frame: Parameters<DisplayPort['show']>[0], faces: Parameters<DisplayPort['show']>[1], info: { fps: number }) {
    drawOverlay(frame.mat, faces, info);
    return this.window.show(frame.mat);
  }

  close() {
    this.window.close();
  }
}
