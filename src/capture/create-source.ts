/**
 * `--source` string -> FrameSource. See source-spec.ts for the forms. Errors in the spec itself (missing file,
 * unknown protocol, a GStreamer pipeline without appsink or without GStreamer in OpenCV) throw SourceError here;
 * devices and programs are tried in open().
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import type { KioskConfig } from '../config/index.js';
import { redactUrl, type Logger } from '../util/index.js';
import { cv } from '../vision/index.js';
import { checkGstElements, gstreamerMissingMessage, missingElementsMessage, parseVideoBackends } from './gstreamer.js';
import { CAMERA_HINT, FILE_HINT, GSTREAMER_HINT, IMAGES_HINT, STREAM_HINT, describeDeviceNode } from './hints.js';
import { OpenCvFrameSource } from './opencv-source.js';
import { RaspistillFrameSource } from './raspistill-source.js';
import { RpicamFrameSource } from './rpicam-source.js';
import { PrefetchingFrameSource } from './prefetch-source.js';
import { parseSourceSpec, type PathKind, type SourceSpec } from './source-spec.js';
import { SourceError, type FrameSource } from './types.js';

export interface CreateSourceOptions {
  /**
   * Read the next frame while the caller works on this one (PrefetchingFrameSource): for the sources read with OpenCV
   * (cameras, files, image sequences, streams, pipelines), whose reads would otherwise take turns with detection. The
   * Raspberry Pi camera sources already read in the background (a child process into LatestFrames).
   */
  prefetch?: boolean;
}

export function createFrameSource(spec: string, camera: KioskConfig['camera'], logger: Logger, options: CreateSourceOptions = {}): FrameSource {
  const parsed = parseSourceSpec(spec, statPath);
  const source = openSource(parsed, camera, logger.child('capture'));
  if (!options.prefetch || !(source instanceof OpenCvFrameSource)) return source;
  return new PrefetchingFrameSource(source, { live: parsed.kind !== 'file' && parsed.kind !== 'images' });
}

function openSource(parsed: SourceSpec, camera: KioskConfig['camera'], log: Logger): FrameSource {
  switch (parsed.kind) {
    case 'camera':
      return new OpenCvFrameSource({
        target: parsed,
        camera,
        logger: log,
        hint: () => `${describeDeviceNode(parsed.device)}; ${CAMERA_HINT}`,
      });
    case 'file':
      return new OpenCvFrameSource({ target: parsed, camera, logger: log, hint: () => FILE_HINT.replaceAll('<file>', parsed.path) });
    case 'images':
      return new OpenCvFrameSource({ target: { kind: 'images', pattern: parsed.pattern }, camera, logger: log, hint: () => IMAGES_HINT.replace('<first>', parsed.first) });
    case 'url': {
      const redacted = redactUrl(parsed.url);
      return new OpenCvFrameSource({
        target: { kind: 'url', url: parsed.url, redacted },
        camera,
        logger: log,
        hint: () => STREAM_HINT.replace('<url>', redacted),
      });
    }
    case 'gstreamer': {
      const backends = parseVideoBackends(cv.getBuildInformation());
      if (!backends.gstreamer) throw new SourceError(gstreamerMissingMessage(parsed.pipeline, backends.gstreamerDetail), false);
      const elements = checkGstElements(parsed.pipeline, gstElementExists);
      if (elements.checked && elements.missing.length > 0) throw new SourceError(missingElementsMessage(parsed.pipeline, elements.missing), false);
      if (!elements.checked) {
        log.warn(
          'gst-inspect-1.0 (package gstreamer1.0-tools) is not installed, so the pipeline\'s elements were not checked: if the kiosk hangs while opening it, an element is missing',
        );
      }
      return new OpenCvFrameSource({ target: parsed, camera, logger: log, hint: () => GSTREAMER_HINT });
    }
    case 'rpicam':
      return new RpicamFrameSource({ binaries: parsed.binaries, width: camera.width, height: camera.height, fps: camera.fps, logger: log });
    case 'raspistill':
      return new RaspistillFrameSource({ width: camera.width, height: camera.height, fps: camera.fps, logger: log });
  }
}

/** `gst-inspect-1.0 --exists NAME`: exit 0 = installed, 1 = not; undefined when the tool is missing. */
function gstElementExists(name: string): boolean | undefined {
  const r = spawnSync('gst-inspect-1.0', ['--exists', name], { stdio: 'ignore', timeout: 10_000 });
  if (r.error) return undefined;
  return r.status === 0;
}

function statPath(path: string): PathKind {
  try {
    const st = statSync(path);
    if (st.isFile()) return 'file';
    if (st.isDirectory()) return 'directory';
    return 'other';
  } catch {
    return 'missing';
  }
}
