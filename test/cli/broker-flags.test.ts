/**
 * The broker flags shared by `dashboard` and `fleet`: one validation, before anything connects, with errors that name
 * the flag and never show the password. `fleet` used to hand any URL to mqtt.js ("getaddrinfo ENOTFOUND host" for an
 * ftp:// URL) and subscribed with a wildcard in the prefix.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { brokerSettings, checkBrokerFlags } from '../../src/cli/broker-flags.js';
import { repoRoot } from '../helpers/fixtures.js';

const flags = (over: Record<string, unknown> = {}) => ({ broker: 'mqtt://127.0.0.1:1883', topicPrefix: 'emotion-kiosk', ...over });

test('checkBrokerFlags: a scheme that is not MQTT, a wildcard or empty prefix: refused, naming the flag', () => {
  assert.throws(() => checkBrokerFlags(flags({ broker: 'ftp://op:s3cr3t@host:1' })), (e: Error) => /^--broker ftp:\/\/op:\*\*\*@host:1: expected mqtt/.test(e.message) && !e.message.includes('s3cr3t'));
  assert.throws(() => checkBrokerFlags(flags({ topicPrefix: 'a/#' })), /--topic-prefix a\/#/);
  assert.throws(() => checkBrokerFlags(flags({ topicPrefix: 'a/+/b' })), /--topic-prefix/);
  assert.throws(() => checkBrokerFlags(flags({ topicPrefix: '' })), /--topic-prefix/);
  for (const broker of ['mqtt://h:1883', 'mqtts://h:8883', 'ws://h:9001', 'wss://h']) assert.doesNotThrow(() => checkBrokerFlags(flags({ broker })));
});

test('brokerSettings: credentials, TLS files and --insecure mapped; the password from the environment when not given', () => {
  const before = process.env.EMOTION_KIOSK_MQTT__PASSWORD;
  process.env.EMOTION_KIOSK_MQTT__PASSWORD = 'from-env';
  try {
    const s = brokerSettings(flags({ username: 'op', ca: 'ca.pem', cert: 'c.pem', key: 'k.pem', insecure: true }));
    assert.deepEqual(s, { url: 'mqtt://127.0.0.1:1883', username: 'op', password: 'from-env', ca: 'ca.pem', cert: 'c.pem', key: 'k.pem', rejectUnauthorized: false, keepaliveS: 30 });
    assert.equal(brokerSettings(flags({ password: 'given' })).password, 'given');
    assert.equal(brokerSettings(flags()).rejectUnauthorized, true);
  } finally {
    if (before === undefined) delete process.env.EMOTION_KIOSK_MQTT__PASSWORD;
    else process.env.EMOTION_KIOSK_MQTT__PASSWORD = before;
  }
});

test('fleet and dashboard: the same plain error for a broker URL that is not MQTT, the password masked, nothing connected', () => {
  for (const args of [['fleet', 'status'], ['fleet', 'command', 'all', 'health_check'], ['dashboard']]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args, '--broker', 'ftp://op:s3cr3t@host:1'], { encoding: 'utf8', cwd: repoRoot, timeout: 60_000 });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--broker ftp:\/\/op:\*\*\*@host:1: expected mqtt:\/\/host:port/, args.join(' '));
    assert.doesNotMatch(r.stderr + r.stdout, /s3cr3t|ENOTFOUND/, args.join(' '));
  }
});
