/**
 * Each subcommand's module is loaded only when it runs: with the OpenCV add-on (and onnxruntime) unloadable,
 * `doctor` still runs and reports OpenCV as a FAIL line with its fix, `config` works, and help lists every command.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { COMMANDS, commandToLoad } from '../../src/cli/commands.js';
import { megamindVideo, repoRoot } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-lazy-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const hook = path.join(repoRoot, 'test/cli/helpers/unloadable-native.mjs');

function cli(args: string[], unloadable = '@u4/opencv4nodejs,onnxruntime-node') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', hook, path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    cwd: repoRoot,
    env: { ...process.env, EMOTION_KIOSK_CONFIG: '', EK_TEST_UNLOADABLE: unloadable },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('commandToLoad: the command word, or the one after help; nothing for help, --version and unknown words', () => {
  assert.equal(commandToLoad(['doctor', '--json']), 'doctor');
  assert.equal(commandToLoad(['help', 'run']), 'run');
  assert.equal(commandToLoad(['--help']), undefined);
  assert.equal(commandToLoad(['--version']), undefined);
  assert.equal(commandToLoad(['docter']), undefined);
  assert.equal(commandToLoad(['toString']), undefined, 'no prototype keys');
  assert.equal(commandToLoad([]), undefined);
});

test('the preload really makes the add-on unloadable: `run` fails with the OpenCV install hint', () => {
  const r = cli(['run', '--source', megamindVideo, '--max-frames', '1', '--headless', '--broker', 'none'], '@u4/opencv4nodejs');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr + r.stdout, /OpenCV for Node \(@u4\/opencv4nodejs\) is not usable: .*made unloadable by the test/);
  const ort = cli(['evaluate', '--model', 'models/deep_emotion.int8.onnx', '--data', 'no-such-dir'], 'onnxruntime-node');
  assert.notEqual(ort.code, 0);
  assert.match(ort.stderr, /Cannot find module 'onnxruntime-node\/build\/Release\/addon\.node' \(made unloadable by the test\)/);
});

test('doctor with the OpenCV add-on and onnxruntime unloadable: a FAIL line for OpenCV with its fix, exit 1', () => {
  const config = path.join(tmp, 'config.yaml');
  writeFileSync(config, `source: ${megamindVideo}\nmqtt:\n  broker: none\ndataDir: ${path.join(tmp, 'data')}\n`);
  const r = cli(['doctor', '--config', config]);
  assert.equal(r.code, 1, r.stderr);
  const line = r.stdout.split('\n').find((l) => /opencv/i.test(l) && /FAIL/.test(l));
  assert.ok(line, `no FAIL line for opencv in:\n${r.stdout}\n${r.stderr}`);
  assert.match(line, /the OpenCV addon does not load/);
  assert.match(r.stdout, /npm rebuild @u4\/opencv4nodejs/);
});

test('config --check and help work without the native add-ons', () => {
  const config = path.join(tmp, 'ok.yaml');
  writeFileSync(config, 'source: /dev/video0\n');
  const check = cli(['config', '--check', '--config', config]);
  assert.equal(check.code, 0, check.stderr);
  const help = cli(['--help']);
  assert.equal(help.code, 0, help.stderr);
  for (const [name, c] of Object.entries(COMMANDS)) assert.ok(help.stdout.includes(name) && help.stdout.includes(c.summary.slice(0, 40)), `${name} missing from help:\n${help.stdout}`);
  const unknown = cli(['docter']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /Did you mean doctor\?/);
});
