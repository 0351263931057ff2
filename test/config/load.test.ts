import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, envKeyToPath, loadConfig } from '../../src/config/load.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-config-'));

function write(name: string, text: string): string {
  const f = path.join(tmp, name);
  writeFileSync(f, text);
  return f;
}

test('defaults come from the schema', () => {
  const { config } = loadConfig({ env: {} });
  assert.equal(config.source, '0');
  assert.equal(config.detection.scaleFactor, 1.15);
  assert.equal(config.mqtt.broker, 'embedded');
  assert.equal(config.tracking.confirmFrames, 2);
});

test('file < environment < flags, with types taken from the schema', () => {
  const file = write('a.yaml', 'source: /dev/video2\ndetection:\n  minNeighbors: 3\nmqtt:\n  topicPrefix: shop\n  password: "x"\n');
  const { config } = loadConfig({
    file,
    env: { EMOTION_KIOSK_DETECTION__MIN_NEIGHBORS: '7', EMOTION_KIOSK_MQTT__PASSWORD: '1234', EMOTION_KIOSK_DISPLAY__ENABLED: 'false' },
    flags: { source: 'clip.avi' },
  });
  assert.equal(config.source, 'clip.avi');
  assert.equal(config.detection.minNeighbors, 7);
  assert.equal(config.mqtt.password, '1234', 'a numeric-looking password stays a string');
  assert.equal(config.display.enabled, false);
  assert.equal(config.mqtt.topicPrefix, 'shop');
});

test('JSON config files are read too', () => {
  const file = write('b.json', JSON.stringify({ tracking: { minDwellMs: 0 } }));
  assert.equal(loadConfig({ file, env: {} }).config.tracking.minDwellMs, 0);
});

test('a bad value is rejected with its path, the reason and where it came from', () => {
  const file = write('c.yaml', 'detection:\n  scaleFactor: 0.5\n');
  assert.throws(
    () => loadConfig({ file, env: { EMOTION_KIOSK_MQTT__BROKER: 'ftp://x' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const msg = err.message;
      assert.match(msg, /detection\.scaleFactor: .*(1|greater).*\(from .*c\.yaml\)/);
      assert.match(msg, /mqtt\.broker: expected mqtt:\/\/host:port.*\(from EMOTION_KIOSK_MQTT__BROKER\)/);
      return true;
    },
  );
});

test('unknown keys in the file are rejected, unknown environment keys are listed', () => {
  const file = write('d.yaml', 'detection:\n  scalefactor: 1.2\n');
  assert.throws(() => loadConfig({ file, env: {} }), /detection: Unrecognized key.*scalefactor/);
  const { unknownEnv } = loadConfig({ env: { EMOTION_KIOSK_NOPE: '1' } });
  assert.deepEqual(unknownEnv, ['EMOTION_KIOSK_NOPE']);
});

test('an unreadable or malformed file is a clear error', () => {
  assert.throws(() => loadConfig({ file: path.join(tmp, 'missing.yaml'), env: {} }), /missing\.yaml: cannot read the config file \(ENOENT\)/);
  const bad = write('e.yaml', 'source: [unclosed\n');
  assert.throws(() => loadConfig({ file: bad, env: {} }), /e\.yaml: not valid YAML/);
});

test('env names map to camelCase paths', () => {
  assert.deepEqual(envKeyToPath('EMOTION_KIOSK_MQTT__HOME_ASSISTANT__DISCOVERY_PREFIX'), ['mqtt', 'homeAssistant', 'discoveryPrefix']);
});
