/** Real test material for capture tests: JPEG frames cut from opencv-doc's Megamind.avi with OpenCV. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
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

/**
 * Serves one file over HTTP from a child process (OpenCV opens streams synchronously, so a server on this event loop
 * could not answer). With `stallAfterBytes` it sends that much and then holds the connection open without sending:
 * a stream that stopped.
 */
export async function serveFile(t: { after: (fn: () => Promise<void>) => void }, path: string, stallAfterBytes = 0): Promise<string> {
  const script = `
    const http = require('node:http'), fs = require('node:fs');
    const [path, stall] = [process.argv[1], Number(process.argv[2])];
    const size = fs.statSync(path).size;
    const server = http.createServer((req, res) => {
      if (stall > 0) {
        res.writeHead(200, { 'content-type': 'video/x-msvideo', 'content-length': size });
        res.write(fs.readFileSync(path).subarray(0, stall)); // ...and never the rest
        return;
      }
      const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range || '');
      const start = range ? Number(range[1]) : 0, end = range && range[2] ? Number(range[2]) : size - 1;
      res.writeHead(range ? 206 : 200, Object.assign({ 'content-type': 'video/x-msvideo', 'accept-ranges': 'bytes', 'content-length': end - start + 1 },
        range ? { 'content-range': 'bytes ' + start + '-' + end + '/' + size } : {}));
      fs.createReadStream(path, { start, end }).pipe(res);
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', script, path, String(stallAfterBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(async () => {
    child.kill();
    await once(child, 'exit').catch(() => undefined);
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return `http://127.0.0.1:${line.toString().trim()}/Megamind.avi`;
}
