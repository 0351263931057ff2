/**
 * Secrets never reach a log line or the screen: broker passwords with # @ / : % and spaces, in the URL (percent-
 * encoded, as the config requires) and in mqtt.password, against a real mosquitto that requires them; right and
 * wrong passwords; the dashboard command in tmux shows the redacted broker URL.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMqttSink, type MqttSink } from '../../src/mqtt/index.js';
import { createLogger } from '../../src/util/logger.js';
import { Tmux } from '../dashboard/helpers/tmux.js';
import { NASTY_PASSWORDS } from '../helpers/secrets.js';
import { kioskConfig, MODEL } from './helpers/fixtures.js';
import { Mosquitto, tempDir, waitFor } from './helpers/mosquitto.js';

const root = path.resolve(import.meta.dirname, '../..');
const users = Object.fromEntries(NASTY_PASSWORDS.map((pw, i) => [`user${i}`, pw]));
let broker: Mosquitto;
const dataDir = tempDir('secrets');
const tmux = new Tmux();
before(async () => {
  broker = await Mosquitto.start({ users });
});
after(async () => {
  tmux.kill();
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every form in which a password could leak into text. */
const forms = (pw: string) => [pw, encodeURIComponent(pw), encodeURI(pw), pw.replace(/ /g, '%20')].filter((f) => f.length >= 2 || f === pw);

async function runSink(i: number, how: 'url' | 'fields', password: string): Promise<{ lines: string[]; connected: boolean }> {
  const lines: string[] = [];
  const logger = createLogger('debug', 'kiosk', (l) => lines.push(l));
  const host = `127.0.0.1:${broker.port}`;
  const mqttCfg =
    how === 'url'
      ? { broker: `mqtt://user${i}:${encodeURIComponent(password)}@${host}` }
      : { broker: `mqtt://${host}`, username: `user${i}`, password };
  const sink = (await createMqttSink(kioskConfig({ ...mqttCfg, deviceId: `sec${i}${how}`, topicPrefix: 'ek', reconnectMaxDelayMs: 500 }, path.join(dataDir, `${i}${how}${password === users[`user${i}`] ? '' : 'bad'}`)), { logger, model: MODEL })) as MqttSink;
  await sink.start!();
  let connected = false;
  try {
    await waitFor(() => sink.status().connected || lines.some((l) => /refused|not authori[sz]ed/i.test(l)), 15_000, `user${i} via ${how}: connected or refused; log:\n${lines.join('\n')}`);
    connected = sink.status().connected;
    lines.push(`status url: ${sink.status().url}`);
  } finally {
    await sink.stop!();
  }
  return { lines, connected };
}

test('kiosk: the right password (URL or mqtt.password) connects, a wrong one is refused; no log line carries either', { timeout: 120_000 }, async () => {
  let checked = 0;
  for (const [i, pw] of NASTY_PASSWORDS.entries()) {
    for (const how of ['url', 'fields'] as const) {
      const ok = await runSink(i, how, pw);
      assert.ok(ok.connected, `user${i} (${JSON.stringify(pw)}) via ${how} connects:\n${ok.lines.join('\n')}`);
      const bad = await runSink(i, how, `${pw}-wrong`);
      assert.ok(!bad.connected, `a wrong password is refused`);
      assert.ok(bad.lines.some((l) => /bad username or password|not authori[sz]ed/i.test(l)), bad.lines.join('\n'));
      for (const l of [...ok.lines, ...bad.lines]) {
        for (const f of [...forms(pw), ...forms(`${pw}-wrong`)]) assert.ok(!l.includes(f), `password form ${JSON.stringify(f)} in: ${l}`);
        checked += 1;
      }
    }
  }
  process.stdout.write(`# ${checked} log lines checked for ${NASTY_PASSWORDS.length} passwords\n`);
});

test('dashboard: connects with the password in the URL and shows the URL redacted; an unparseable URL is refused without echoing it', { timeout: 120_000 }, async () => {
  const i = NASTY_PASSWORDS.indexOf('h#a@s/h:%2 F');
  const pw = NASTY_PASSWORDS[i]!;
  const url = `mqtt://user${i}:${encodeURIComponent(pw)}@127.0.0.1:${broker.port}`;
  const s = 'secret';
  tmux.start(s, `cd ${root} && exec node --import tsx src/cli/main.ts dashboard --broker '${url}' --device all --topic-prefix sec2`);
  const screen = await waitFor(() => (/connected to mqtt:\/\/user\d+:\*\*\*@127\.0\.0\.1/.test(tmux.screen(s)) || !tmux.alive(s) ? { text: tmux.screen(s) } : null), 60_000, 'the dashboard connected').catch((err: Error) => {
    throw new Error(`${err.message}; screen:\n${tmux.screen(s)}`);
  });
  assert.match(screen.text, new RegExp(`^ - waiting for a kiosk {2}\\[0 devices\\] {2}mqtt://user${i}:\\*\\*\\*@127\\.0\\.0\\.1:${broker.port} sec2/\\+$`, 'm'));
  for (const f of forms(pw)) assert.ok(!screen.text.includes(f), `${JSON.stringify(f)} on the screen:\n${screen.text}`);
  tmux.keys(s, 'q');
  await waitFor(() => !tmux.alive(s), 10_000, 'q quits');

  const raw = `mqtt://user${i}:${pw}@127.0.0.1:${broker.port}`;
  let out = '';
  try {
    execFileSync('node', ['--import', 'tsx', 'src/cli/main.ts', 'dashboard', '--broker', raw], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
  }
  assert.match(out, /--broker mqtt:\/\/\*\*\*@127\.0\.0\.1:\d+: .*percent-encode/);
  for (const f of forms(pw)) assert.ok(!out.includes(f), `${JSON.stringify(f)} in: ${out}`);
});
