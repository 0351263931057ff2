/**
 * Test helpers for the display path: a private Xvfb server on a free display number, and root-window screenshots
 * with `xwd` (Debian package x11-apps) decoded from the XWD format into a BGR buffer.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Xvfb {
  display: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startXvfb(width: number, height: number): Promise<Xvfb> {
  for (let n = 90 + Math.floor(Math.random() * 100); n < 400; n++) {
    if (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) continue;
    const child = spawn('Xvfb', [`:${n}`, '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-noreset'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let exited = false;
    const exit = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), resolve())));
    for (let i = 0; i < 100 && !exited; i++) {
      if (existsSync(`/tmp/.X11-unix/X${n}`)) {
        return {
          display: `:${n}`,
          process: child,
          stop: async () => {
            if (!exited) {
              child.kill('SIGTERM');
              await exit;
            }
          },
        };
      }
      await sleep(50);
    }
    if (!exited) {
      child.kill('SIGKILL');
      await exit;
    }
    if (!/already active|server is already|Cannot establish/i.test(stderr)) throw new Error(`Xvfb :${n} did not start: ${stderr.trim()}`);
  }
  throw new Error('no free X display number found');
}

export interface Screenshot {
  width: number;
  height: number;
  /** BGR, row-major, width * 3 bytes per row. */
  bgr: Buffer;
}

export async function screenshot(display: string): Promise<Screenshot> {
  const data = await new Promise<Buffer>((resolve, reject) => {
    execFile('xwd', ['-root', '-silent', '-display', display], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`xwd failed: ${err.message} ${stderr.toString()}`));
      else resolve(stdout);
    });
  });
  return decodeXwd(data);
}

/** XWD (X Window Dump) ZPixmap with 24/32 bits per pixel and RGB masks -> BGR. */
export function decodeXwd(data: Buffer): Screenshot {
  const h = (i: number) => data.readUInt32BE(i * 4);
  const headerSize = h(0);
  const format = h(2);
  const width = h(4);
  const height = h(5);
  const byteOrder = h(7);
  const bitsPerPixel = h(11);
  const bytesPerLine = h(12);
  const [redMask, greenMask, blueMask] = [h(14), h(15), h(16)];
  const ncolors = h(19);
  if (h(1) !== 7 || format !== 2) throw new Error(`unsupported XWD (version ${h(1)}, format ${format})`);
  if (bitsPerPixel !== 32 && bitsPerPixel !== 24) throw new Error(`unsupported XWD bits per pixel ${bitsPerPixel}`);
  const start = headerSize + ncolors * 12;
  const shift = (mask: number) => Math.log2(mask & -mask);
  const [rs, gs, bs] = [shift(redMask), shift(greenMask), shift(blueMask)];
  const bpp = bitsPerPixel / 8;
  const bgr = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = start + y * bytesPerLine + x * bpp;
      const p = bpp === 4 ? (byteOrder === 0 ? data.readUInt32LE(o) : data.readUInt32BE(o)) : byteOrder === 0 ? data.readUIntLE(o, 3) : data.readUIntBE(o, 3);
      const d = (y * width + x) * 3;
      bgr[d] = (p & blueMask) >>> bs;
      bgr[d + 1] = (p & greenMask) >>> gs;
      bgr[d + 2] = (p & redMask) >>> rs;
    }
  }
  return { width, height, bgr };
}
