/**
 * The OpenCV build the native addon was compiled against: version, and the video back-ends the configured
 * source needs (V4L2 for cameras, GStreamer for pipelines such as Jetson's nvarguscamerasrc).
 */
import { parseVideoBackends, type SourceSpec } from '../capture/index.js';
import { fail, ok, warn, type CheckResult } from './result.js';

export function openCvVersion(buildInformation: string): string | undefined {
  return /General configuration for OpenCV\s+([0-9][^\s=]*)/.exec(buildInformation)?.[1];
}

export function checkOpenCvBuild(buildInformation: string, source: SourceSpec | undefined): CheckResult {
  const version = openCvVersion(buildInformation) ?? 'unknown version';
  const b = parseVideoBackends(buildInformation);
  const gst = b.gstreamer ? (b.gstreamerDetail ?? 'yes').replace(/^YES\b/i, 'yes') : 'no';
  const details = [`video I/O: V4L2 ${b.v4l ? 'yes' : 'no'}, GStreamer ${gst}, FFmpeg ${b.ffmpeg ? 'yes' : 'no'}`];
  const rebuild = 'then rebuild the addon: cd /opt/emotion-kiosk/current && sudo npm rebuild @u4/opencv4nodejs';
  if (source?.kind === 'gstreamer' && !b.gstreamer) {
    return fail(
      'opencv',
      `OpenCV ${version} has no GStreamer, but the source is a GStreamer pipeline`,
      `install an OpenCV built with GStreamer (JetPack's on a Jetson; Debian/Ubuntu's libopencv-videoio-dev has it), ${rebuild}`,
      details,
    );
  }
  if (source?.kind === 'camera' && !b.v4l) {
    return fail('opencv', `OpenCV ${version} has no V4L2 support, but the source is a camera`, `install Debian/Ubuntu's libopencv-videoio-dev, ${rebuild}`, details);
  }
  if ((source?.kind === 'url' || source?.kind === 'file') && !b.ffmpeg && !b.gstreamer) {
    return warn('opencv', `OpenCV ${version} has neither FFmpeg nor GStreamer: files and streams may not open`, `install libopencv-videoio-dev with its FFmpeg back-end, ${rebuild}`, details);
  }
  return ok('opencv', `OpenCV ${version}`, details);
}
