/** What to tell the operator when a source cannot be opened: checks they can run themselves. */
import { accessSync, constants, existsSync } from 'node:fs';

export const CAMERA_HINT =
  'is the camera connected? list devices with "ls /dev/video*" (or "v4l2-ctl --list-devices" from v4l-utils); ' +
  'is the user in the video group ("groups"; add with "sudo usermod -aG video $USER" and log in again)? is another program using the camera?';

/** A sentence about a V4L2 device node: missing, not accessible, or present. */
export function describeDeviceNode(device: string): string {
  if (!existsSync(device)) return `${device} does not exist`;
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
    return `${device} exists and is accessible`;
  } catch {
    return `${device} exists but this user may not open it (permission denied: add the user to the video group)`;
  }
}

export const FILE_HINT = 'is it a video FFmpeg can decode? check it with "ffprobe <file>" or play it with "ffplay <file>"';

export const IMAGES_HINT =
  'are the images numbered without gaps from 0 or 1 (<first>, then the next number), and can OpenCV read them (PNG, JPEG, BMP, TIFF, PPM)?';

export const STREAM_HINT =
  'is the stream reachable from this machine (try "ffprobe <url>")? are the credentials right? ' +
  'for RTSP over TCP set OPENCV_FFMPEG_CAPTURE_OPTIONS="rtsp_transport;tcp"';

export const GSTREAMER_HINT =
  'test the pipeline with gst-launch-1.0, replacing "appsink" with "fakesink"; a missing element needs its plugin package ' +
  '(gstreamer1.0-plugins-base/-good/-bad, or nvidia-l4t-gstreamer on a Jetson; "gst-inspect-1.0 <element>" tells whether it is installed)';

export const RPICAM_HINT =
  'is the camera ribbon cable seated and the camera detected ("rpicam-hello --list-cameras")? on Raspberry Pi OS Bookworm install rpicam-apps, on Bullseye libcamera-apps';

export const RASPISTILL_HINT =
  'raspistill needs the legacy camera stack (Raspberry Pi OS Buster, or Bullseye with "Legacy Camera" enabled in raspi-config; it does not exist on 64-bit Bookworm: use --source rpicam there)';

/** rtsp://user:secret@host/… -> rtsp://user:***@host/… (fail-closed; the kiosk's one redactor, src/util/redact.ts). */
