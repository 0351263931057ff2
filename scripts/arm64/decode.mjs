// The decoder on its own, for the arm64 comparison (scripts/arm64/check.ts):
//   node scripts/arm64/decode.mjs <app root> <video> <dir> write     decodes every frame (OpenCV's FFmpeg backend, as
//        the kiosk reads files) and writes it as a lossless PNG <dir>/%04d.png: the pixels of THIS machine's decoder,
//        which the kiosk replays bit-exactly anywhere (`run --source <dir>/%04d.png`: OpenCV's image-sequence capture)
//   node scripts/arm64/decode.mjs <app root> <video> <dir> compare   decodes every frame here and compares it, byte for
//        byte, with <dir>'s PNG of that frame
// write also leaves <dir>/source.json: {video, fps} (the rate to replay the images at).
// One JSON line per frame: index, the decoder's position (ms), sha256 of the BGR bytes, and for compare: bytes,
// differing bytes, the largest difference (levels) and a histogram of the differences (index = levels).
// Plain JavaScript so it runs under the arm64 node in qemu (scripts/arm64/node.sh) and this host's node alike.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [rootArg, video, dir, mode] = process.argv.slice(2);
if (!rootArg || !video || !dir || (mode !== 'write' && mode !== 'compare')) throw new Error('usage: decode.mjs <app root> <video> <dir> write|compare');
const { cv } = await import(pathToFileURL(path.join(path.resolve(rootArg), 'dist', 'vision', 'opencv.js')).href);
const sha = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 16);
const name = (i) => path.join(dir, `${String(i).padStart(4, '0')}.png`);
if (mode === 'write') mkdirSync(dir, { recursive: true });

const cap = new cv.VideoCapture(video, cv.CAP_FFMPEG);
for (let index = 0; ; index++) {
  const mat = cap.read();
  if (mat.empty) break;
  const positionMs = cap.get(cv.CAP_PROP_POS_MSEC);
  const bytes = mat.getData();
  const line = { index, positionMs, frame: sha(bytes) };
  if (mode === 'write') {
    cv.imwrite(name(index), mat);
    const back = cv.imread(name(index), cv.IMREAD_UNCHANGED).getData();
    if (!back.equals(bytes)) throw new Error(`${name(index)} does not read back as the decoded frame`);
  } else {
    const ref = cv.imread(name(index), cv.IMREAD_UNCHANGED);
    if (ref.empty) throw new Error(`no reference image ${name(index)}`);
    const want = ref.getData();
    if (want.length !== bytes.length) throw new Error(`frame ${index}: ${bytes.length} bytes here, ${want.length} in ${name(index)}`);
    const histogram = [0];
    let differing = 0;
    for (let i = 0; i < bytes.length; i++) {
      const d = Math.abs(bytes[i] - want[i]);
      if (d === 0) continue;
      differing++;
      while (histogram.length <= d) histogram.push(0);
      histogram[d]++;
    }
    histogram[0] = bytes.length - differing;
    Object.assign(line, { bytes: bytes.length, differing, maxDiff: histogram.length - 1, histogram });
  }
  process.stdout.write(JSON.stringify(line) + '\n');
  mat.release();
}
const fps = cap.get(cv.CAP_PROP_FPS);
cap.release();
// The image sequence has no rate of its own: the kiosk replays it at the video's (camera.fps).
if (mode === 'write') writeFileSync(path.join(dir, 'source.json'), JSON.stringify({ video, fps }) + '\n');
