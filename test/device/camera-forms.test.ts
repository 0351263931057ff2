/**
 * Every form of `setup.sh --camera` reaches the kiosk exactly as typed: setup.sh's own config writing (write_config,
 * called from a sourced setup.sh with the directories pointed at a temporary root), then `emotion-kiosk config
 * --check` and `emotion-kiosk config` on the file it wrote, and the kiosk's source parser on the value. Also a
 * hand-written `source: 0` (a YAML number) is a camera index.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseSourceSpec } from '../../src/capture/source-spec.js';
import { loadConfig } from '../../src/config/load.js';
import { redactSecrets } from '../../src/util/redact.js';
import { repoRoot } from '../helpers/fixtures.js';

const setup = path.join(repoRoot, 'device', 'setup.sh');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-camera-forms-'));
const prefix = path.join(tmp, 'opt');
after(() => rmSync(tmp, { recursive: true, force: true }));

before(() => {
  // The "installed release" write_config merges with: this checkout (its device/ and node_modules/yaml).
  mkdirSync(prefix, { recursive: true });
  symlinkSync(repoRoot, path.join(prefix, 'current'));
});

const JETSON =
  'nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM), width=1280, height=720, framerate=30/1 ! nvvidconv flip-method=0 ! video/x-raw, width=640, height=480, format=BGRx ! videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1';
const RTSP = 'rtsp://viewer:p@ss:w0rd #1@cam.lan:554/stream1?channel=1#main';

/** Each --camera form and what the kiosk makes of it. */
const FORMS: { camera: string; kind: string }[] = [
  { camera: '0', kind: 'camera' },
  { camera: '/dev/video0', kind: 'camera' },
  { camera: 'rpicam', kind: 'rpicam' },
  { camera: 'libcamera-vid', kind: 'rpicam' },
  { camera: 'raspistill', kind: 'raspistill' },
  { camera: JETSON, kind: 'gstreamer' },
  { camera: 'rtsp://cam/a #b', kind: 'url' },
  { camera: RTSP, kind: 'url' },
  { camera: '/srv/kiosk videos/lobby demo #2.avi', kind: 'file' },
];

/** setup.sh's write_config with CAMERA set, in a fresh config dir; returns the config file. */
function writeConfig(name: string, camera: string): string {
  const conf = path.join(tmp, name, 'etc');
  mkdirSync(conf, { recursive: true });
  // `chown root:<service user>` needs root: the permission step is not what this test is about.
  const script = [
    'set -Eeuo pipefail',
    'source "$1" --help',
    'CONF_DIR=$2 PREFIX=$3 DATA_DIR=/var/lib/emotion-kiosk SVC_USER=$(id -gn) PLATFORM=generic CAMERA=$4',
    'chown() { :; }',
    'write_config',
  ].join('\n');
  const r = spawnSync('bash', ['-c', script, 'camera-forms', setup, conf, prefix, camera], { encoding: 'utf8' });
  assert.equal(r.status, 0, `write_config --camera ${JSON.stringify(camera)}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /change {2}write .*config\.yaml/);
  // setup.sh's output ends up in logs (firstboot.log lies on the boot partition): a camera password is masked there.
  if (camera === RTSP) assert.ok(!r.stdout.includes('w0rd') && /source rtsp:\/\/\*\*\*@cam\.lan:554\//.test(r.stdout), r.stdout);
  return path.join(conf, 'config.yaml');
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    cwd: repoRoot,
    env: { ...process.env, EMOTION_KIOSK_CONFIG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

FORMS.forEach(({ camera, kind }, i) => {
  test(`--camera ${JSON.stringify(camera)} is written, checked and shown exactly as given (${kind})`, () => {
    const file = writeConfig(`form-${i}`, camera);
    const written = parseYaml(readFileSync(file, 'utf8')) as { source: unknown };
    assert.equal(written.source, camera, 'config.yaml holds the source as the same string');

    const check = cli(['config', '--check', '--config', file]);
    assert.equal(check.code, 0, `config --check:\n${check.stderr}`);
    assert.equal(check.stdout, `ok: ${file}\n`);

    const shown = cli(['config', '--config', file]);
    assert.equal(shown.code, 0, shown.stderr);
    // `config` may mask credentials in URLs (src/util/redact.ts): a source with a password is shown either exactly or
    // as the redactor shows it; every other form exactly.
    const source = (parseYaml(shown.stdout) as { source: unknown }).source;
    if (redactSecrets(camera) === camera) assert.equal(source, camera);
    else assert.ok(source === camera || source === redactSecrets(camera), `config shows ${JSON.stringify(source)}`);

    const { config } = loadConfig({ file, env: {} });
    assert.equal(config.source, camera, 'the kiosk reads the exact string');
    assert.equal(parseSourceSpec(config.source, () => 'file').kind, kind);
  });
});

test('a hand-written `source: 0` (a YAML number) is camera index 0; other numbers are refused with the forms', () => {
  const file = path.join(tmp, 'hand.yaml');
  writeFileSync(file, 'source: 0\n');
  const { config } = loadConfig({ file, env: {} });
  assert.equal(config.source, '0');
  assert.deepEqual(parseSourceSpec(config.source, () => 'missing'), { kind: 'camera', index: 0, device: '/dev/video0' });
  writeFileSync(file, 'source: 2\n');
  assert.equal(loadConfig({ file, env: {} }).config.source, '2');
  for (const bad of ['-1', '1.5']) {
    writeFileSync(file, `source: ${bad}\n`);
    assert.throws(() => loadConfig({ file, env: {} }), /source: /, `source: ${bad}`);
  }
  // The environment gives strings: EMOTION_KIOSK_SOURCE=0 and a URL both stay what they were.
  assert.equal(loadConfig({ env: { EMOTION_KIOSK_SOURCE: '0' } }).config.source, '0');
  assert.equal(loadConfig({ env: { EMOTION_KIOSK_SOURCE: 'rtsp://cam/a #b' } }).config.source, 'rtsp://cam/a #b');
});
