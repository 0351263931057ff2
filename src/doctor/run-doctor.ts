/**
 * Runs every doctor check in order and collects the results. The native parts (OpenCV, onnxruntime) load on first
 * use (src/vision, src/model), inside the checks' try blocks, so a broken add-on becomes a FAIL line with a fix
 * instead of a crash.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createFrameSource, findFirstBinary, parseSourceSpec, type PathKind, type SourceSpec } from '../capture/index.js';
import { HaarFaceDetector } from '../detection/index.js';
import { EmotionClassifier } from '../model/index.js';
import { cv } from '../vision/index.js';
import { ConfigError, loadConfig, CONFIG_FILE_ENV, type KioskConfig } from '../config/index.js';
import { silentLogger, defaultCascadePath, defaultModelPath } from '../util/index.js';
import { checkBroker, probeBroker } from './broker.js';
import { checkCameraLive, checkCameraStatic, gatherCameraFacts } from './camera.js';
import { checkDisk, gatherDiskFacts } from './disk.js';
import { checkIdentity, probeDuplicateClient, type DuplicateProbe } from './identity.js';
import { checkKioskMode, gatherKioskFacts, type KioskFacts } from './kiosk-mode.js';
import { checkCascade, checkModelLoad, type ModelLoad } from './model.js';
import { checkOpenCvBuild } from './opencv.js';
import { fail, ok, skip, summarize, warn, type CheckResult, type DoctorReport } from './result.js';
import { checkArchitecture, checkClock, checkNodeVersion, gatherClockFacts } from './system.js';
import { deriveDeviceIdentity, readIdentityFacts, type IdentityFacts } from '../system/index.js';

const execFileAsync = promisify(execFile);

export interface DoctorOptions {
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** The service's start-up check: fast, no camera read and no broker probe; an absent camera is only a warning. */
  preflight?: boolean;
  /** Open the camera and read one frame (default: yes, unless preflight). */
  readCamera?: boolean;
  brokerTimeoutMs?: number;
  cameraTimeoutMs?: number;
  /** Is the kiosk service running (it then holds the camera)? Default: asks systemctl. */
  serviceActive?: () => Promise<boolean>;
  /** Host name, machine id, board serial (default: this machine's). */
  identityFacts?: IdentityFacts;
  /** How long to watch the broker for another client with this device's id (default 3 s). */
  identityWatchMs?: number;
  /** The kiosk mode setup.sh set and what it needs (default: setup.conf beside the config, cage and Xwayland on PATH). */
  kioskFacts?: KioskFacts;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

function statPath(p: string): PathKind {
  try {
    const st = statSync(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } catch {
    return 'missing';
  }
}

async function systemdServiceActive(): Promise<boolean> {
  try {
    await execFileAsync('systemctl', ['is-active', '--quiet', 'emotion-kiosk.service'], { timeout: 3000 });
    return true;
  } catch {
    return false;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    }),
  ]);
}

async function readOneFrame(config: KioskConfig, timeoutMs: number): Promise<{ width: number; height: number; description: string } | { error: string }> {
  let source: Awaited<ReturnType<typeof createFrameSource>> | undefined;
  try {
    source = createFrameSource(config.source, config.camera, silentLogger);
    const s = source;
    await withTimeout(s.open(), timeoutMs, `opening ${s.description}`);
    const frame = await withTimeout(s.read(), timeoutMs, `reading a frame from ${s.description}`);
    if (!frame) return { error: `${s.description} ended without a frame` };
    return { width: frame.mat.cols, height: frame.mat.rows, description: s.description };
  } catch (err) {
    return { error: errorText(err) };
  } finally {
    await source?.close().catch(() => undefined);
  }
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const env = opts.env ?? process.env;
  const preflight = opts.preflight ?? false;
  const readCamera = opts.readCamera ?? !preflight;
  const user = os.userInfo().username;
  const checks: CheckResult[] = [];

  checks.push(checkArchitecture(process.arch, process.platform));
  checks.push(checkNodeVersion(process.version));
  checks.push(checkClock(await gatherClockFacts()));

  // Config.
  let config: KioskConfig | undefined;
  try {
    const loaded = loadConfig({ file: opts.configFile, env });
    config = loaded.config;
    const where = loaded.file ?? `no config file (schema defaults; pass --config or set ${CONFIG_FILE_ENV})`;
    if (loaded.unknownEnv.length > 0) {
      checks.push(warn('config', `${where}; unknown environment variables: ${loaded.unknownEnv.join(', ')}`, 'remove or correct them: EMOTION_KIOSK_<SECTION>__<KEY>, e.g. EMOTION_KIOSK_MQTT__BROKER'));
    } else if (!loaded.file) {
      checks.push(warn('config', where, 'on a device the config is /etc/emotion-kiosk/config.yaml: emotion-kiosk doctor --config /etc/emotion-kiosk/config.yaml'));
    } else {
      checks.push(ok('config', `${loaded.file} is valid`));
    }
  } catch (err) {
    const msg = err instanceof ConfigError ? err.problems.join('; ') : errorText(err);
    checks.push(fail('config', msg, 'edit the config file (every key: src/config/schema.ts; check with emotion-kiosk config --check --config FILE)'));
  }

  let spec: SourceSpec | undefined;
  let specError: string | undefined;
  if (config) {
    try {
      spec = parseSourceSpec(config.source, statPath);
    } catch (err) {
      specError = errorText(err);
    }
  }

  // OpenCV (the native addon) and the face detector's cascade.
  let opencvUsable = false;
  try {
    checks.push(checkOpenCvBuild(cv.getBuildInformation(), spec));
    opencvUsable = true;
  } catch (err) {
    checks.push(
      fail(
        'opencv',
        `the OpenCV addon does not load: ${errorText(err)}`,
        'install the OpenCV -dev packages and build tools (device/setup.sh does), then: cd /opt/emotion-kiosk/current && sudo npm rebuild @u4/opencv4nodejs',
      ),
    );
  }
  if (!config) checks.push(skip('cascade', 'config invalid'));
  else if (!opencvUsable) checks.push(skip('cascade', 'OpenCV not usable'));
  else {
    const cascadePath = path.resolve(config.detection.cascade ?? defaultCascadePath);
    try {
      HaarFaceDetector.load(cascadePath, config.detection);
      checks.push(checkCascade({ path: cascadePath }));
    } catch (err) {
      checks.push(checkCascade({ path: cascadePath, error: errorText(err) }));
    }
  }

  // The model: manifest + an onnxruntime session that answers a test face.
  if (!config) checks.push(skip('model', 'config invalid'));
  else {
    const modelPath = path.resolve(config.model.path ?? defaultModelPath);
    let load: ModelLoad;
    try {
      // onnxruntime otherwise records a device id and telemetry in $HOME/.cache; a kiosk keeps nothing of the sort.
      process.env.ORT_DISABLE_TELEMETRY ??= '1';
      const classifier = await EmotionClassifier.load(modelPath, { intraOpThreads: config.model.intraOpThreads });
      load = { manifest: classifier.manifest, path: modelPath };
      await classifier.close();
    } catch (err) {
      load = { error: errorText(err), path: modelPath };
    }
    checks.push(checkModelLoad(load));
  }

  // Camera.
  if (!config) checks.push(skip('camera', 'config invalid'));
  else if (specError !== undefined || !spec) checks.push(fail('camera', `source "${config.source}": ${specError}`, 'set source in the config (rpicam, 0, /dev/video0, a file, a URL or a GStreamer pipeline ending in appsink)'));
  else {
    let binary: string | undefined;
    if (spec.kind === 'rpicam') binary = (await findFirstBinary(spec.binaries))?.[1];
    if (spec.kind === 'raspistill') binary = (await findFirstBinary(['raspistill']))?.[1];
    const staticCheck = checkCameraStatic(gatherCameraFacts(spec, binary, user), preflight);
    checks.push(staticCheck);
    if (readCamera && staticCheck.status !== 'fail' && opencvUsable) {
      const running = await (opts.serviceActive ?? systemdServiceActive)();
      checks.push(checkCameraLive(running ? 'skipped-running' : await readOneFrame(config, opts.cameraTimeoutMs ?? 15_000)));
    }
  }

  // Broker.
  if (!config) checks.push(skip('broker', 'config invalid'));
  else if (preflight || config.mqtt.broker === 'none' || config.mqtt.broker === 'embedded') checks.push(checkBroker(config.mqtt, undefined));
  else checks.push(checkBroker(config.mqtt, await probeBroker(config.mqtt, opts.brokerTimeoutMs ?? 5000)));

  // Device id: a default host name, and another client with this id on the broker (they disconnect each other).
  if (!config) checks.push(skip('identity', 'config invalid'));
  else {
    const identity = deriveDeviceIdentity(opts.identityFacts ?? readIdentityFacts(), config.mqtt.deviceId);
    let probe: DuplicateProbe | undefined;
    const brokerOk = checks.find((c) => c.id === 'broker')?.status === 'ok';
    if (!preflight && brokerOk && config.mqtt.broker !== 'embedded' && config.mqtt.broker !== 'none') {
      const serviceActive = await (opts.serviceActive ?? systemdServiceActive)();
      probe = await probeDuplicateClient(config.mqtt, identity.id, { watchMs: opts.identityWatchMs ?? 3000, connectTimeoutMs: opts.brokerTimeoutMs ?? 5000, serviceActive });
    }
    checks.push(checkIdentity(identity, probe));
  }

  // Disk for the outbox.
  if (!config) checks.push(skip('disk', 'config invalid'));
  else {
    try {
      checks.push(checkDisk(gatherDiskFacts(config.mqtt.outbox.dir ?? path.join(config.dataDir, 'outbox')), user));
    } catch (err) {
      checks.push(fail('disk', `cannot inspect the data dir ${config.dataDir}: ${errorText(err)}`, 'set dataDir in the config to a writable directory'));
    }
  }

  // The kiosk mode (setup.sh --kiosk) and, for the camera view on the screen, its compositor.
  checks.push(checkKioskMode(opts.kioskFacts ?? (await gatherKioskFacts(opts.configFile ?? env[CONFIG_FILE_ENV], env))));

  return summarize(checks);
}
