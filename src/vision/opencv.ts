/**
 * The one place that loads @u4/opencv4nodejs. Everything else imports `cv` from here.
 * - Loads the CommonJS build: its ES-module loader looks for an OpenCV it compiled itself and fails with a
 *   system OpenCV unless OPENCV4NODEJS_DISABLE_AUTOBUILD is set in the environment.
 * - Silences @u4/opencv-build's start-up log, which it prints to stdout (it would corrupt --json output).
 * - Turns a missing native addon into an error that says how to build it.
 * - Loads it on first use, not at import: a module that imports `cv` (through a folder's index.ts) costs nothing until
 *   it touches OpenCV, so `doctor`, `config` and the dashboard run, and doctor reports a broken add-on as a FAIL line.
 * - Turns off the add-on's external-memory accounting: on Node 20 it reports Mat frees to V8 from inside garbage
 *   collection, which aborts the process ("Check failed: marking_done_", UrielCh/opencv4nodejs #134 and #148; here
 *   every 800-frame run crashed with it, none without). The kiosk releases its Mats explicitly instead.
 */
import { createRequire } from 'node:module';
import type * as CV from '@u4/opencv4nodejs';

const require = createRequire(import.meta.url);

function load(): typeof CV.default {
  process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
  process.env.OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING ??= '1';
  // OpenCV's own [ WARN ] lines repeat what the kiosk's errors already say; OPENCV_LOG_LEVEL=INFO brings them back.
  process.env.OPENCV_LOG_LEVEL ??= 'ERROR';
  try {
    (require('@u4/opencv-build') as { Log: { silence: boolean } }).Log.silence = true;
    return require('@u4/opencv4nodejs') as typeof CV.default;
  } catch (err) {
    throw new Error(
      `OpenCV for Node (@u4/opencv4nodejs) is not usable: ${(err as Error).message.split('\n')[0]}\n` +
        'Install the OpenCV development packages (see README: apt-get install libopencv-*-dev) and rebuild it with `npm rebuild @u4/opencv4nodejs`.',
    );
  }
}

let loaded: typeof CV.default | undefined;
export const cv: typeof CV.default = new Proxy({} as typeof CV.default, {
  get: (_target, key) => Reflect.get((loaded ??= load()), key),
  has: (_target, key) => Reflect.has((loaded ??= load()), key),
});
export type Mat = CV.Mat;
export type CascadeClassifier = CV.CascadeClassifier;
export type VideoCapture = CV.VideoCapture;
