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
 */
import { SourceError } from './types.js';

export type PathKind = 'file' | 'directory' | 'other' | 'missing';

export type SourceSpec =
  | { kind: 'camera'; /** V4L2 index when known (/dev/videoN or "N"). */ index: number | undefined; device: string }
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string; protocol: string }
  | { kind: 'gstreamer'; pipeline: string }
  | { kind: 'rpicam'; /** Binaries to try, in order. */ binaries: string[] }
  | { kind: 'raspistill' };

const URL_PROTOCOLS = ['rtsp', 'rtsps', 'rtmp', 'http', 'https', 'udp', 'rtp', 'tcp', 'srt'];

export const SOURCE_FORMS =
  'a camera index (0), /dev/videoN, a video file path, an rtsp://, http(s):// or udp:// URL, a GStreamer pipeline ending in "! appsink", rpicam (or rpicam-vid, libcamera-vid) or raspistill';

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
  if (kind === 'directory') throw new SourceError(`source "${path}" is a directory, not a video file`, false);
  throw new SourceError(`video file not found: ${path} (a source is ${SOURCE_FORMS})`, false);
}
