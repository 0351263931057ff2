/**
 * `setup.sh --model-key FILE`: the fleet's Ed25519 public key is checked (never a private key, never another kind),
 * installed as <conf>/model-key.pub and named in the config (remote.modelKey), which then passes `config --check`.
 * Run through setup.sh's own write_config from a sourced setup.sh, the directories pointed at a temporary root.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { keygenFiles } from '../../src/fleet/signing.js';
import { loadConfig } from '../../src/config/load.js';
import { repoRoot } from '../helpers/fixtures.js';

const setup = path.join(repoRoot, 'device', 'setup.sh');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-model-key-'));
const prefix = path.join(tmp, 'opt');
after(() => rmSync(tmp, { recursive: true, force: true }));
before(() => {
  mkdirSync(prefix, { recursive: true });
  symlinkSync(repoRoot, path.join(prefix, 'current'));
});

function writeConfig(name: string, modelKey: string) {
  const conf = path.join(tmp, name, 'etc');
  mkdirSync(conf, { recursive: true });
  const script = [
    'set -Eeuo pipefail',
    'source "$1" --help',
    'CONF_DIR=$2 PREFIX=$3 DATA_DIR=/var/lib/emotion-kiosk SVC_USER=$(id -gn) PLATFORM=generic MODEL_KEY=$4',
    'chown() { :; }',
    'write_config',
  ].join('\n');
  const r = spawnSync('bash', ['-c', script, 'model-key', setup, conf, prefix, modelKey], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr, conf };
}

test('the .pub of fleet keygen is installed and named in the config, which passes the schema', () => {
  const { publicFile } = keygenFiles(path.join(tmp, 'fleet'));
  const r = writeConfig('good', publicFile);
  assert.equal(r.code, 0, r.out);
  const installed = path.join(r.conf, 'model-key.pub');
  assert.equal(readFileSync(installed, 'utf8'), readFileSync(publicFile, 'utf8'));
  assert.equal(statSync(installed).mode & 0o777, 0o640);
  const file = path.join(r.conf, 'config.yaml');
  assert.equal((parseYaml(readFileSync(file, 'utf8')) as { remote: { modelKey: string } }).remote.modelKey, installed);
  assert.equal(loadConfig({ file, env: {} }).config.remote.modelKey, installed);
  const again = writeConfig('good', publicFile);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /model key .*model-key\.pub up to date/);
});

test('a private key, another kind of key, a non-key and a missing file are refused with what to do', () => {
  const { privateFile } = keygenFiles(path.join(tmp, 'fleet2'));
  const priv = writeConfig('priv', privateFile);
  assert.notEqual(priv.code, 0);
  assert.match(priv.out, /is a PRIVATE key: give the device the \.pub file/);
  const rsa = path.join(tmp, 'rsa.pub');
  writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }));
  assert.match(writeConfig('rsa', rsa).out, /is a rsa key; model signatures are Ed25519/);
  const junk = path.join(tmp, 'junk.pub');
  writeFileSync(junk, 'not a key\n');
  assert.match(writeConfig('junk', junk).out, /is not a PEM public key/);
  assert.match(writeConfig('missing', path.join(tmp, 'nope.pub')).out, /no such file \(make one with: emotion-kiosk fleet keygen\)/);
  for (const name of ['priv', 'rsa', 'junk', 'missing']) assert.throws(() => statSync(path.join(tmp, name, 'etc', 'model-key.pub')), 'nothing installed');
});
