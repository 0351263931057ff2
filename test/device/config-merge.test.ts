/** device/lib/config-merge.mjs: the device config is written once and then only gains new keys. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ConfigMergeError, mergeConfig, parseSet, printable } from '../../device/lib/config-merge.mjs';
import { loadConfig } from '../../src/config/load.js';
import { repoRoot } from '../helpers/fixtures.js';

const templatePath = path.join(repoRoot, 'device', 'config.template.yaml');
const template = readFileSync(templatePath, 'utf8');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-config-merge-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the device template is a valid kiosk config (the lead\'s loader accepts it)', () => {
  const file = path.join(tmp, 'template.yaml');
  writeFileSync(file, template);
  const { config } = loadConfig({ file, env: {} });
  assert.equal(config.dataDir, '/var/lib/emotion-kiosk');
  assert.equal(config.display.enabled, false, 'a service has no window');
});

test('a fresh install gets the template with the platform values and the seed on top, comments kept', () => {
  const r = mergeConfig({
    existingText: null,
    templateText: template,
    seedText: 'mqtt:\n  broker: "mqtt://seed:1883"\n  password: "p\\"w"\n',
    sets: [parseSet('source=rpicam'), parseSet('mqtt.broker=mqtt://flag:1883'), parseSet('camera.fps=10')],
  });
  assert.equal(r.changed, true);
  const c = parseYaml(r.text);
  assert.equal(c.source, 'rpicam');
  assert.equal(c.camera.fps, 10, '--set values are typed like YAML');
  assert.equal(c.mqtt.broker, 'mqtt://seed:1883', 'the seed (what the operator gave flash.sh) wins over defaults');
  assert.equal(c.mqtt.password, 'p"w');
  assert.match(r.text, /^# emotion-kiosk configuration, written by device\/setup\.sh\./);
});

test('re-provisioning keeps every operator value and comment, and adds only missing keys', () => {
  const operator = [
    '# my kiosk',
    'source: /dev/video2 # the USB camera on the left',
    'camera:',
    '  fps: 5',
    'mqtt:',
    '  broker: mqtt://10.0.0.2:1883',
    'dataDir: /srv/kiosk',
    '',
  ].join('\n');
  const r = mergeConfig({ existingText: operator, templateText: template, sets: [parseSet('source=rpicam'), parseSet('mqtt.broker=embedded')] });
  assert.equal(r.changed, true);
  const c = parseYaml(r.text);
  assert.equal(c.source, '/dev/video2');
  assert.equal(c.camera.fps, 5);
  assert.equal(c.camera.width, 640, 'new key added');
  assert.equal(c.mqtt.broker, 'mqtt://10.0.0.2:1883');
  assert.equal(c.dataDir, '/srv/kiosk');
  assert.equal(c.logLevel, 'info');
  assert.match(r.text, /# my kiosk/);
  assert.match(r.text, /source: \/dev\/video2 # the USB camera on the left/);
  assert.deepEqual(r.added.sort(), ['camera.height', 'camera.width', 'display.enabled', 'logLevel', 'mqtt.topicPrefix'].sort());
  assert.ok(r.kept.some((k) => k.startsWith('source = "/dev/video2"')), 'says which given value was not applied');
  const again = mergeConfig({ existingText: r.text, templateText: template, sets: [parseSet('source=rpicam')] });
  assert.equal(again.changed, false);
  assert.equal(again.text, r.text, 'idempotent');
});

test('--set-string keeps a value exactly (a camera index stays a string, ` #` is not a comment); --set types it', () => {
  assert.deepEqual(parseSet('source=0', { string: true }), { path: ['source'], value: '0' });
  assert.deepEqual(parseSet('source=0'), { path: ['source'], value: 0 }, 'YAML typing: what broke --camera 0');
  assert.equal(parseSet('source=rtsp://cam/a #b', { string: true }).value, 'rtsp://cam/a #b');
  assert.equal(parseSet('source=rtsp://cam/a #b').value, 'rtsp://cam/a', 'YAML typing cuts at a comment');
  assert.equal(parseSet('source=a=b', { string: true }).value, 'a=b', 'only the first = splits');
  const r = mergeConfig({ existingText: null, templateText: template, sets: [parseSet('source=0', { string: true })] });
  assert.equal(parseYaml(r.text).source, '0');
  assert.match(r.text, /^source: "0"$/m);
});

test('an operator\'s hand-written `source: 0` is kept as written, and is not reported as a conflict with "0"', () => {
  const operator = 'source: 0 # USB camera\n';
  const r = mergeConfig({ existingText: operator, templateText: template, sets: [parseSet('source=0', { string: true })] });
  assert.match(r.text, /^source: 0 # USB camera$/m);
  assert.deepEqual(r.kept, []);
  const other = mergeConfig({ existingText: operator, templateText: template, sets: [parseSet('source=rpicam', { string: true })] });
  assert.ok(other.kept.some((k) => k.startsWith('source = 0 (your value')), 'a different value is reported');
});

test('a kept URL is reported with its credentials masked (setup.sh prints the notes into logs)', () => {
  const operator = 'source: "rtsp://admin:p@ss #1@cam.lan/h264"\nmqtt:\n  broker: mqtt://kiosk:s3cr3t@broker.lan:1883\n';
  const r = mergeConfig({
    existingText: operator,
    templateText: template,
    sets: [parseSet('source=rtsp://other:pw2@cam2/x', { string: true }), parseSet('mqtt.broker=mqtt://u:pw3@b:1883', { string: true })],
  });
  const notes = r.kept.join('\n');
  assert.match(notes, /^source = "rtsp:\/\/\*\*\*@cam\.lan\/h264" \(your value; "rtsp:\/\/\*\*\*@cam2\/x" was not applied/m);
  assert.match(notes, /^mqtt\.broker = "mqtt:\/\/\*\*\*@broker\.lan:1883"/m);
  for (const secret of ['p@ss', 's3cr3t', 'pw2', 'pw3']) assert.ok(!notes.includes(secret), secret);
  assert.equal(printable('rpicam'), '"rpicam"');
});

test('an operator\'s scalar where the template has a section is kept, and reported', () => {
  const r = mergeConfig({ existingText: 'camera: null\n', templateText: template });
  assert.equal(parseYaml(r.text).camera, null);
  assert.ok(r.kept.some((k) => /^camera \(not a mapping in your file/.test(k)));
});

test('a broken config file is reported, never replaced', () => {
  assert.throws(() => mergeConfig({ existingText: 'mqtt: [unclosed\n', templateText: template }), (e: unknown) => e instanceof ConfigMergeError && /existing config file is not valid YAML/.test(e.message));
  assert.throws(() => mergeConfig({ existingText: '- a\n- b\n', templateText: template }), /top level must be a mapping/);
  assert.throws(() => parseSet('no-equals'), /key\.path=value/);
  const file = path.join(tmp, 'broken.yaml');
  writeFileSync(file, 'mqtt: [unclosed\n');
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'device/lib/config-merge.mjs'), '--target', file, '--template', templatePath], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not valid YAML/);
  assert.equal(readFileSync(file, 'utf8'), 'mqtt: [unclosed\n');
});

test('the CLI writes a new file, then only with a backup, then not at all', () => {
  const file = path.join(tmp, 'config.yaml');
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'device/lib/config-merge.mjs'), '--target', file, '--template', templatePath, ...args], { encoding: 'utf8' });
  let r = cli('--set', 'source=0', '--check');
  assert.match(r.stdout, /RESULT changed new/);
  assert.throws(() => statSync(file), '--check writes nothing');
  r = cli('--set', 'source=0');
  assert.match(r.stdout, /RESULT changed new/);
  assert.equal((statSync(file).mode & 0o777).toString(8), '640');
  const trimmed = readFileSync(file, 'utf8').replace(/^logLevel: info\n/m, '');
  writeFileSync(file, trimmed);
  r = cli();
  assert.match(r.stdout, /added logLevel\nRESULT changed 1/);
  assert.equal(readFileSync(file + '.bak', 'utf8'), trimmed);
  const mtime = statSync(file).mtimeMs;
  r = cli();
  assert.match(r.stdout, /RESULT unchanged/);
  assert.equal(statSync(file).mtimeMs, mtime);
});

test('the CLI also runs through a symlinked path, as setup.sh calls it (/opt/emotion-kiosk/current/...)', () => {
  const link = path.join(tmp, 'current');
  symlinkSync(repoRoot, link);
  const file = path.join(tmp, 'via-link.yaml');
  const r = spawnSync(process.execPath, [path.join(link, 'device/lib/config-merge.mjs'), '--target', file, '--template', templatePath], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /RESULT changed new/);
  assert.ok(statSync(file).size > 0);
});
