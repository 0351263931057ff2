/** The mqtt section: broker URLs that parse (or a clear error without the password), topic prefixes, ranges; `config` masks secrets. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { NASTY_PASSWORDS } from '../helpers/secrets.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-config-mqtt-'));
const problems = (mqtt: Record<string, unknown>): string => {
  try {
    loadConfig({ env: {}, flags: Object.fromEntries(Object.entries(mqtt).map(([k, v]) => [`mqtt.${k}`, v as string])) });
    return '';
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
};

test('a broker URL that does not parse as written is a config error naming mqtt.broker, without the password', () => {
  const msg = problems({ broker: 'mqtt://kiosk:s3cr#t@broker:1883' });
  assert.match(msg, /mqtt\.broker: mqtt:\/\/\*\*\*@broker:1883 .*percent-encode/);
  assert.ok(!msg.includes('s3cr'), msg);
  for (const pw of ['a/b', 'q?r', 'x#y']) {
    const m = problems({ broker: `mqtt://kiosk:${pw}@broker:1883` });
    assert.match(m, /mqtt\.broker: /, pw);
    assert.ok(!m.includes(pw), m);
  }
  assert.match(problems({ broker: 'ftp://x' }), /mqtt\.broker: .*expected mqtt:\/\/host:port/);
  assert.match(problems({ broker: 'mqtt://' }), /mqtt\.broker: /);
  assert.match(problems({ broker: 'mqtt://broker:99999' }), /mqtt\.broker: /);
  for (const ok of ['embedded', 'none', 'mqtt://broker:1883', 'mqtts://kiosk:p%23ss@broker:8883', 'mqtt://kiosk:p@ss@broker', 'ws://broker/mqtt', 'mqtt://kiosk:pa ss@broker']) {
    assert.equal(problems({ broker: ok }), '', ok);
  }
});

test('topic and discovery prefixes: no wildcards, no $-leading, NUL or empty levels', () => {
  for (const key of ['topicPrefix', 'homeAssistant']) {
    for (const bad of ['a/+/b', 'a/#', '#', '$SYS', '$share/x', 'a//b', '/a', 'a/', '', 'a\u0000b']) {
      const msg = key === 'topicPrefix' ? problems({ topicPrefix: bad }) : problemsHa(bad);
      const p = key === 'topicPrefix' ? 'mqtt.topicPrefix' : 'mqtt.homeAssistant.discoveryPrefix';
      assert.match(msg, new RegExp(`${p.replace(/\./g, '\\.')}: `), `${key} ${JSON.stringify(bad)}: ${msg}`);
    }
    for (const good of ['emotion-kiosk', 'shop/lobby', 'ek']) assert.equal(key === 'topicPrefix' ? problems({ topicPrefix: good }) : problemsHa(good), '', good);
  }
  assert.match(problems({ topicPrefix: 'a/+/b' }), /wildcard/);
  assert.match(problems({ topicPrefix: '$SYS' }), /\$/);
  assert.match(problems({ topicPrefix: 'a//b' }), /empty level/);
});

function problemsHa(prefix: string): string {
  try {
    loadConfig({ env: {}, flags: { 'mqtt.homeAssistant.discoveryPrefix': prefix } });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

test('keepalive and intervals are range-checked', () => {
  assert.match(problems({ keepaliveS: 0 }), /mqtt\.keepaliveS: /);
  assert.match(problems({ keepaliveS: 70_000 }), /mqtt\.keepaliveS: .*65535/);
  assert.match(problems({ statsIntervalS: 0 }), /mqtt\.statsIntervalS: /);
  assert.match(problems({ statsIntervalS: 10_000_000 }), /mqtt\.statsIntervalS: /);
  assert.match(problems({ countsWindowS: 10_000_000 }), /mqtt\.countsWindowS: /);
  assert.match(problems({ reconnectMaxDelayMs: 10 }), /mqtt\.reconnectMaxDelayMs: /);
  assert.equal(problems({ keepaliveS: 60, statsIntervalS: 5, countsWindowS: 60, reconnectMaxDelayMs: 500 }), '');
});

test('emotion-kiosk config masks passwords and the credentials in URLs (YAML and JSON)', () => {
  // three passwords per run (camera URL, broker URL, mqtt.password): every one of them, YAML, then once JSON
  for (let i = 0; i < NASTY_PASSWORDS.length; i += 3) {
    const [a, b, c] = [0, 1, 2].map((k) => NASTY_PASSWORDS[(i + k) % NASTY_PASSWORDS.length]!) as [string, string, string];
    const file = path.join(tmp, `c${i}.yaml`);
    writeFileSync(file, JSON.stringify({ source: `rtsp://admin:${a}@cam/h264`, mqtt: { broker: `mqtt://kiosk:${encodeURIComponent(b)}@broker:1883`, username: 'kiosk', password: c } }));
    for (const flags of i === 0 ? [[], ['--json']] : [[]]) {
      const out = execFileSync('node', ['--import', 'tsx', 'src/cli/main.ts', 'config', '-c', file, ...flags], { cwd: root, encoding: 'utf8', env: { ...process.env, EMOTION_KIOSK_MQTT__PASSWORD: undefined } });
      for (const pw of [a, b, encodeURIComponent(b), c]) assert.ok(!out.includes(pw), `'${pw}' ${flags}: ${out}`);
      assert.match(out, /password: "?\*\*\*"?|"password": "\*\*\*"/);
      assert.match(out, /kiosk:\*\*\*@broker:1883/);
      assert.match(out, /rtsp:\/\/(admin:)?\*\*\*@cam\/h264/);
    }
  }
});
