/**
 * GStreamer sources. OpenCV opens a pipeline string with its GStreamer backend when it was built with GStreamer
 * (`cv.getBuildInformation()` lists "GStreamer: YES (…)" under Video I/O). NVIDIA JetPack's OpenCV is; Debian's
 * libopencv-videoio is too; pip wheels and some hand builds are not.
 *
 * Jetson CSI cameras (IMX219, IMX477, …) are read through Argus with nvarguscamerasrc, which hands NVMM buffers to
 * nvvidconv for scaling/flipping on the VIC, then videoconvert makes the BGR that OpenCV wants:
 *
 *   nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM), width=1920, height=1080, framerate=30/1 !
 *     nvvidconv flip-method=0 ! video/x-raw, width=960, height=540, format=BGRx ! videoconvert !
 *     video/x-raw, format=BGR ! appsink
 *
 * (JetsonHacksNano/CSI-Camera). `jetsonCsiPipeline()` builds that string; pass it as `--source`. Check the camera
 * first with `gst-launch-1.0 nvarguscamerasrc sensor-id=0 ! fakesink`; if it fails, restart the Argus daemon
 * (`sudo systemctl restart nvargus-daemon`).
 */
import { redactSecrets } from '../util/index.js';

/**
 * Element factory names in a gst-launch style pipeline: the first word of each "!"-separated part, skipping caps
 * ("video/x-raw, …") and references to named elements ("t." after a tee). Pure.
 */
export function pipelineElements(pipeline: string): string[] {
  const names: string[] = [];
  for (const part of pipeline.split('!')) {
    const first = part.trim().split(/\s+/)[0] ?? '';
    if (first === '' || first.includes('/') || first.endsWith('.') || first.includes('=')) continue;
    const name = first.replace(/[(),]+$/, '');
    if (/^[A-Za-z0-9_-]+$/.test(name) && !names.includes(name)) names.push(name);
  }
  return names;
}

export type ElementCheck = { checked: false } | { checked: true; missing: string[] };

/**
 * Asks GStreamer (gst-inspect-1.0, package gstreamer1.0-tools) which elements are not installed. This runs before
 * OpenCV sees the pipeline because OpenCV 4.6 can block forever opening a pipeline whose source element does not
 * exist (nvarguscamerasrc on a machine that is not a Jetson, a typo): the kiosk would hang at start instead of
 * saying why. `exists` is injected for tests; it returns undefined when gst-inspect-1.0 itself is missing.
 */
export function checkGstElements(pipeline: string, exists: (element: string) => boolean | undefined): ElementCheck {
  const missing: string[] = [];
  for (const name of pipelineElements(pipeline)) {
    const found = exists(name);
    if (found === undefined) return { checked: false };
    if (!found) missing.push(name);
  }
  return { checked: true, missing };
}

export function missingElementsMessage(pipeline: string, missing: string[]): string {
  const jetson = missing.some((m) => m.startsWith('nv'))
    ? ' nvarguscamerasrc and nvvidconv exist only on NVIDIA Jetson (JetPack\'s nvidia-l4t-gstreamer).'
    : '';
  return (
    `cannot open GStreamer pipeline "${redactSecrets(pipeline)}": element${missing.length === 1 ? '' : 's'} ${missing.join(', ')} ` +
    `not installed ("gst-inspect-1.0 ${missing[0]}" finds nothing).${jetson} Install the plugin package that provides ` +
    `${missing.length === 1 ? 'it' : 'them'} (gstreamer1.0-plugins-base/-good/-bad/-ugly) or fix the pipeline.`
  );
}

export interface JetsonCsiOptions {
  /** CSI port (sensor-id), 0 or 1 on a Jetson Nano dev kit. */
  sensorId?: number;
  /** Frame size delivered to OpenCV. */
  width: number;
  height: number;
  fps: number;
  /** nvvidconv flip-method: 0 none, 1 rotate 90° ccw, 2 rotate 180°, 3 rotate 90° cw, 4 horizontal flip, 5 upper-right diagonal, 6 vertical flip, 7 upper-left diagonal. */
  flipMethod?: number;
  /** Sensor mode size captured before nvvidconv scales it; defaults to the delivered size. */
  captureWidth?: number;
  captureHeight?: number;
}

export function jetsonCsiPipeline(options: JetsonCsiOptions): string {
  const { sensorId = 0, width, height, fps, flipMethod = 0 } = options;
  const captureWidth = options.captureWidth ?? width;
  const captureHeight = options.captureHeight ?? height;
  for (const [name, value] of Object.entries({ sensorId, width, height, fps, flipMethod, captureWidth, captureHeight })) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`jetsonCsiPipeline: ${name} must be a non-negative integer, got ${value}`);
  }
  if (width === 0 || height === 0 || fps === 0) throw new RangeError('jetsonCsiPipeline: width, height and fps must be > 0');
  if (flipMethod > 7) throw new RangeError(`jetsonCsiPipeline: flipMethod must be 0…7, got ${flipMethod}`);
  return (
    `nvarguscamerasrc sensor-id=${sensorId} ! ` +
    `video/x-raw(memory:NVMM), width=${captureWidth}, height=${captureHeight}, framerate=${fps}/1 ! ` +
    `nvvidconv flip-method=${flipMethod} ! ` +
    `video/x-raw, width=${width}, height=${height}, format=BGRx ! ` +
    `videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1`
  );
}

export interface VideoBackendSupport {
  gstreamer: boolean;
  /** What the build information says, e.g. "YES (1.22.0)" or "NO"; undefined when the line is missing. */
  gstreamerDetail: string | undefined;
  ffmpeg: boolean;
  v4l: boolean;
}

/** Reads the Video I/O section of `cv.getBuildInformation()`. */
export function parseVideoBackends(buildInformation: string): VideoBackendSupport {
  const value = (name: string): string | undefined => {
    const m = new RegExp(`^\\s*${name}:\\s*(.+?)\\s*$`, 'mi').exec(buildInformation);
    return m?.[1];
  };
  const yes = (v: string | undefined) => v !== undefined && /^YES\b/i.test(v);
  const gst = value('GStreamer');
  return { gstreamer: yes(gst), gstreamerDetail: gst, ffmpeg: yes(value('FFMPEG')), v4l: yes(value('v4l/v4l2')) };
}

/** The error text for a GStreamer pipeline when OpenCV lacks the backend. */
export function gstreamerMissingMessage(pipeline: string, detail: string | undefined): string {
  return (
    `cannot open GStreamer pipeline "${redactSecrets(pipeline)}": this OpenCV was built without GStreamer (build information says "GStreamer: ${detail ?? 'not listed'}"). ` +
    'Install an OpenCV with GStreamer: on a Jetson use JetPack\'s OpenCV (apt install nvidia-opencv / the L4T image\'s libopencv), ' +
    'on Debian/Ubuntu libopencv-videoio-dev with gstreamer1.0-plugins-base and gstreamer1.0-plugins-good, then rebuild @u4/opencv4nodejs (npm rebuild @u4/opencv4nodejs).'
  );
}
