/**
 * Camera access. The static part (pure, from facts): does the device node exist, may this user open it, is the
 * user in the `video` group, is the camera program installed. The live part opens the source and reads one frame.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import type { SourceSpec } from '../capture/index.js';
import { fail, ok, skip, warn, type CheckResult } from './result.js';

export interface CameraFacts {
  spec: SourceSpec;
  /** For V4L2 devices: does the node exist, can this process open it read-write. */
  deviceExists?: boolean;
  deviceAccessible?: boolean;
  /** Whether this process has the `video` group (undefined when the group does not exist). */
  inVideoGroup?: boolean;
  user: string;
  /** For rpicam/raspistill: the program found on PATH, or undefined. */
  binary?: string;
  /** For files: readable. */
  fileReadable?: boolean;
}

const GROUP_FIX = (user: string) => `sudo usermod -aG video ${user} (then log in again, or restart the service); device/setup.sh does this for the service user`;

/** Static checks. `soft`: report what can fix itself later (an unplugged camera) as warn instead of fail. */
export function checkCameraStatic(f: CameraFacts, soft = false): CheckResult {
  const bad = soft ? warn : fail;
  switch (f.spec.kind) {
    case 'camera': {
      const dev = f.spec.device;
      if (!f.deviceExists) {
        return bad('camera', `${dev} does not exist`, 'is the camera plugged in? "ls /dev/video*" lists cameras (v4l2-ctl --list-devices from v4l-utils names them); set source in the config to the right one');
      }
      if (!f.deviceAccessible) {
        return fail('camera', `${dev} exists but ${f.user} may not open it`, f.inVideoGroup === false ? GROUP_FIX(f.user) : `check its permissions: ls -l ${dev}`);
      }
      return ok('camera', `${dev} present and accessible to ${f.user}`);
    }
    case 'rpicam':
      if (!f.binary) {
        return fail('camera', `no ${f.spec.binaries.join(' or ')} on PATH`, 'install the camera tools: sudo apt install rpicam-apps-lite (Bookworm and later) or libcamera-apps-lite (Bullseye)');
      }
      if (f.inVideoGroup === false) return fail('camera', `${f.user} is not in the video group (libcamera opens /dev/media* and /dev/video*)`, GROUP_FIX(f.user));
      return ok('camera', `Raspberry Pi camera via ${f.binary}`);
    case 'raspistill':
      if (!f.binary) {
        return fail('camera', 'raspistill is not installed', 'raspistill is the legacy camera stack (32-bit Buster/Bullseye only); on 64-bit Bookworm set source: rpicam');
      }
      return warn('camera', `legacy raspistill at ${f.binary}`, 'the legacy stack is gone on Bookworm: prefer source: rpicam');
    case 'file':
      return f.fileReadable ? ok('camera', `video file ${f.spec.path}`) : fail('camera', `video file ${f.spec.path} is not readable by ${f.user}`, `check its permissions: ls -l ${f.spec.path}`);
    case 'images':
      return f.fileReadable ? ok('camera', `image sequence ${f.spec.pattern}`) : fail('camera', `image sequence ${f.spec.pattern}: ${f.spec.first} is not readable by ${f.user}`, `check its permissions: ls -l ${f.spec.first}`);
    case 'gstreamer':
      if (f.inVideoGroup === false) return warn('camera', `GStreamer pipeline; ${f.user} is not in the video group`, GROUP_FIX(f.user));
      return ok('camera', 'GStreamer pipeline (opened by OpenCV; see the opencv check)');
    case 'url':
      return ok('camera', 'network stream (reachability is checked when opened)');
  }
}

/** The `video` group's gid from /etc/group, or undefined. */
export function groupId(name: string, groupFile = '/etc/group'): number | undefined {
  try {
    for (const line of readFileSync(groupFile, 'utf8').split('\n')) {
      const [n, , gid] = line.split(':');
      if (n === name && gid !== undefined) return Number(gid);
    }
  } catch {
    /* no group file */
  }
  return undefined;
}

export function gatherCameraFacts(spec: SourceSpec, binary: string | undefined, user: string): CameraFacts {
  const videoGid = groupId('video');
  const groups = process.getgroups?.() ?? [];
  const facts: CameraFacts = { spec, user, binary, inVideoGroup: videoGid === undefined ? undefined : groups.includes(videoGid) || process.getgid?.() === videoGid };
  if (spec.kind === 'camera') {
    facts.deviceExists = existsSync(spec.device);
    facts.deviceAccessible = facts.deviceExists && canAccess(spec.device, constants.R_OK | constants.W_OK);
  } else if (spec.kind === 'file' || spec.kind === 'images') {
    facts.fileReadable = canAccess(spec.kind === 'file' ? spec.path : spec.first, constants.R_OK);
  }
  return facts;
}

function canAccess(p: string, mode: number): boolean {
  try {
    accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}

/** Result of reading one frame from the opened source. */
export function checkCameraLive(result: { width: number; height: number; description: string } | { error: string } | 'skipped-running'): CheckResult {
  if (result === 'skipped-running') {
    return skip('camera-read', 'the emotion-kiosk service is running and holds the camera: its log shows the frames (journalctl -u emotion-kiosk)');
  }
  if ('error' in result) {
    return fail('camera-read', `could not read a frame: ${result.error}`, 'see the camera check above; try the source by hand (rpicam-hello --list-cameras, v4l2-ctl --list-devices, gst-launch-1.0 ... ! fakesink)');
  }
  return ok('camera-read', `read a ${result.width}x${result.height} frame from ${result.description}`);
}
