/**
 * What a `--source` string means. Pure: the file system is asked through `statPath`, so the rules are unit-tested
 * without devices.
 *
 *   "0", "2"                    V4L2 camera by index (OpenCV VideoCapture)
 *   /dev/video0, /dev/v4l/…     V4L2 camera by device path
 *   rtsp:// http(s):// udp://   network stream (OpenCV's FFmpeg backend)
 *   "… ! … ! appsink"           GStreamer pipeline (OpenCV built with GStreamer, e.g. JetPack's)
 *   rpicam | rpicam-vid | libcamera-vid   Raspberry Pi camera, libcamera stack (Bookworm), MJPEG on stdout
 *   raspistill                  Raspberry Pi camera, legacy stack (Buster/Bullseye 32-bit), via node-raspistill
 *   any existing file           video file
 *   dir/%04d.png (printf)       a recorded image sequence (OpenCV's image-sequence capture: 0000.png, 0001.png, …,
 *                               numbered from 0 or 1; any format imread reads; lossless PNG replays exact pixels)
 */
import { SourceError } from './types.js';

export type PathKind = 'file' | 'directory' | 'other' | 'missing';

export type SourceSpec =
  | { kind: 'camera'; /** V4L2 index when known (/dev/videoN or "N"). */ index: number | undefined; device: string }
  | { kind: 'file'; path: string }
  | { kind: 'images'; /** printf pattern with one %d or %0Nd. */ pattern: string; /** The first image (number 0 or 1). */ first: string }
  | { kind: 'url'; url: string; protocol: string }
  | { kind: 'gstreamer'; pipeline: string }
  | { kind: 'rpicam'; /** Binaries to try, in order. */ binaries: string[] }
  | { kind: 'raspistill' };

const URL_PROTOCOLS = ['rtsp', 'rtsps', 'rtmp', 'http', 'https', 'udp', 'rtp', 'tcp', 'srt'];

export const SOURCE_FORMS =
  'a camera index (0), /dev/videoN, a video file path, an image sequence (dir/%04d.png), an rtsp://, http(s):// or udp:// URL, a GStreamer pipeline ending in "! appsink", rpicam (or rpicam-vid, libcamera-vid) or raspistill';

export function parseSourceSpec(rawSpec: string, statPath: (path: string) => PathKind): SourceSpec {
  const spec = rawSpec.trim();
  if (spec === '') throw new SourceError(`empty source: expected ${SOURCE_FORMS}`, false);

  if (/^\d+$/.test(spec)) {
    const index = Number(spec);
    if (!Number.isSafeInteger(index)) throw new SourceError(`camera index ${spec} is out of range`, false);
    return { kind: 'camera', index, device: `/dev/video${index}` };
  }

  const lower = spec.toLowerCase();
  if (lower === 'rpicam' || lower === 'rpicam-vid') return { kind: 'rpicam', binaries: ['rpicam-vid', 'libcamera-vid'] };
  if (lower === 'libcamera-vid' || lower === 'libcamera') return { kind: 'rpicam', binaries: ['libcamera-vid', 'rpicam-vid'] };
  if (lower === 'raspistill') return { kind: 'raspistill' };

  if (spec.includes('!')) {
    const elements = spec.split('!').map((e) => e.trim());
    const last = elements[elements.length - 1] ?? '';
    if (elements.length < 2 || elements.some((e) => e === '')) {
      throw new SourceError(`"${spec}" looks like a GStreamer pipeline but has an empty element between "!"s`, false);
    }
    if (!/^appsink(\s|$)/.test(last)) {
      throw new SourceError(
        `GStreamer pipeline "${spec}" must end in appsink (OpenCV reads frames from it), e.g. "… ! videoconvert ! video/x-raw, format=BGR ! appsink"`,
        false,
      );
    }
    return { kind: 'gstreamer', pipeline: spec };
  }

  const urlMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec);
  if (urlMatch) {
    const protocol = urlMatch[1]!.toLowerCase();
    if (protocol === 'file') return fileSpec(decodeURIComponent(spec.slice('file://'.length)), statPath);
    if (!URL_PROTOCOLS.includes(protocol)) {
      throw new SourceError(`unsupported stream protocol "${protocol}://" in "${spec}": use one of ${URL_PROTOCOLS.map((p) => p + '://').join(', ')}`, false);
    }
    return { kind: 'url', url: spec, protocol };
  }

  const video = /^\/dev\/video(\d+)$/.exec(spec);
  if (video) return { kind: 'camera', index: Number(video[1]), device: spec };
  if (spec.startsWith('/dev/v4l/')) return { kind: 'camera', index: undefined, device: spec };

  return fileSpec(spec, statPath);
}

function fileSpec(path: string, statPath: (path: string) => PathKind): SourceSpec {
  const kind = statPath(path);
  if (kind === 'file' || kind === 'other') return { kind: 'file', path };
  const placeholders = [...path.matchAll(PLACEHOLDER)];
  if (placeholders.length > 1) throw new SourceError(`image sequence ${path}: use one number placeholder (%d or %04d), not ${placeholders.length}`, false);
  if (placeholders.length === 1) {
    // OpenCV's image-sequence capture starts at number 0 or, where that is missing, 1.
    const candidates = [0, 1].map((n) => formatSequenceName(path, n));
    const first = candidates.find((c) => statPath(c) === 'file');
    if (first === undefined) throw new SourceError(`image sequence ${path}: no first image (${candidates.join(' or ')}); the images are numbered from 0 or 1`, false);
    return { kind: 'images', pattern: path, first };
  }
  if (kind === 'directory') {
    throw new SourceError(`source "${path}" is a directory, not a video file (to replay the images in it, give their pattern, e.g. ${path.replace(/\/+$/, '')}/%04d.png)`, false);
  }
  throw new SourceError(`video file not found: ${path} (a source is ${SOURCE_FORMS})`, false);
}

/** printf's integer conversion as OpenCV's image sequences use it: %d, %4d (space-padded), %04d (zero-padded). */
const PLACEHOLDER = /%(0?)(\d{0,2})d/g;

/** The name of image number `n` of a sequence pattern. */
export function formatSequenceName(pattern: string, n: number): string {
  return pattern.replace(PLACEHOLDER, (_m, zero: string, width: string) => String(n).padStart(Number(width || 0), zero ? '0' : ' '));
}
