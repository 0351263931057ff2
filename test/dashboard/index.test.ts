/** The dashboard command in a real terminal: tmux 80x24, a real mosquitto, a real kiosk sink publishing. */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMqttSink, type MqttSink } from '../../src/mqtt/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { faceEvent, frame, kioskConfig, MODEL } from '../mqtt/helpers/fixtures.js';
import { Mosquitto, tempDir, waitFor } from '../mqtt/helpers/mosquitto.js';
import { Tmux } from './helpers/tmux.js';

const SESSION = 'dash';
const root = path.resolve(import.meta.dirname, '../..');
const tmux = new Tmux();
const screen = () => tmux.screen(SESSION);
const alive = () => tmux.alive(SESSION);

let broker: Mosquitto;
const dataDir = tempDir('dash');
before(async () => {
  broker = await Mosquitto.start();
});
after(async () => {
  tmux.kill();
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('dashboard in tmux (80x24): counts change with events, the device goes offline, d switches devices, resize, p pauses, q quits', { timeout: 90_000 }, async () => {
  const sink = (await createMqttSink(kioskConfig({ broker: broker.url, deviceId: 'tmuxkiosk', topicPrefix: 'ek', statsIntervalS: 1, homeAssistant: { enabled: false } }, dataDir), { logger: silentLogger, model: MODEL })) as MqttSink;
  await sink.start!();
  let stopped = false;
  try {
    const cmd = `cd ${root} && exec node --import tsx src/cli/main.ts dashboard --broker ${broker.url} --device all --topic-prefix ek`;
    tmux.start(SESSION, cmd);
    const s1 = await waitFor(() => (/tmuxkiosk ONLINE/.test(screen()) ? screen() : null), 40_000, `dashboard shows the kiosk online; screen:\n${screen()}`);
    assert.match(s1, /Emotions entered \(0 events\)/);

    // a camera at ~10 fps while the test runs
    let n = 1;
    const camera = setInterval(() => sink.onFrame!(frame(n++, [{ id: 1, emotion: 'happy' }, { id: 2, emotion: 'happy' }], Date.now())), 100);
    after(() => clearInterval(camera));
    for (let i = 0; i < 3; i++) await sink.onEvent(faceEvent(i, 'appeared', 'happy'));
    const s2 = await waitFor(() => (/Emotions entered \(3 events\)/.test(screen()) ? screen() : null), 20_000, `3 events; screen:\n${screen()}`);
    assert.match(s2, /face \d appeared happy 70%/);
    assert.match(s2, /2 face\(s\) in view/);
    assert.match(s2, /#1 happy/);

    for (let i = 3; i < 7; i++) await sink.onEvent(faceEvent(i, 'emotion_changed', 'sad'));
    const s3 = await waitFor(() => (/Emotions entered \(7 events\)/.test(screen()) ? screen() : null), 20_000, `7 events; screen:\n${screen()}`);
    assert.match(s3, /neutral -> sad/);
    await waitFor(() => /fps 15\.0  detect 12\.0ms  classify 4\.0ms/.test(screen()), 20_000, `stats (fps) shown; screen:\n${screen()}`);
    process.stdout.write(`# dashboard screen after 7 events:\n${s3.split('\n').map((l) => `# ${l}`).join('\n')}\n`);

    clearInterval(camera);
    await sink.stop!();
    stopped = true;
    await waitFor(() => /tmuxkiosk OFFLINE \(shutdown\)/.test(screen()), 20_000, `offline; screen:\n${screen()}`);

    // a second kiosk under the same prefix: the dashboard lists it, d switches to it
    const second = (await createMqttSink(kioskConfig({ broker: broker.url, deviceId: 'kiosk_two', topicPrefix: 'ek', homeAssistant: { enabled: false } }, path.join(dataDir, 'two')), { logger: silentLogger, model: MODEL })) as MqttSink;
    await second.start!();
    try {
      await waitFor(() => /\[2 devices\]/.test(screen()), 20_000, `2 devices; screen:\n${screen()}`);
      tmux.keys(SESSION, 'd');
      await waitFor(() => /^ kiosk_two ONLINE/.test(screen()), 10_000, `switched to kiosk_two; screen:\n${screen()}`);
      tmux.keys(SESSION, 'd');
      await waitFor(() => /^ tmuxkiosk OFFLINE/.test(screen()), 10_000, `back to tmuxkiosk; screen:\n${screen()}`);
    } finally {
      await second.stop!();
    }

    // resizes cleanly: larger, then back to 80x24, the layout is redrawn to the new size
    tmux.run('resize-window', '-t', SESSION, '-x', '100', '-y', '30');
    await waitFor(() => {
      const l = screen().split('\n');
      return l.length >= 30 && /q quit/.test(l[29] ?? '') && /OFFLINE/.test(l[0] ?? '');
    }, 10_000, `redrawn at 100x30; screen:\n${screen()}`);
    tmux.run('resize-window', '-t', SESSION, '-x', '80', '-y', '24');
    await waitFor(() => {
      const l = screen().split('\n');
      return /q quit/.test(l[23] ?? '') && /Emotions entered \(7 events\)/.test(l[1] ?? '') && l.every((x) => x.length <= 80);
    }, 10_000, `redrawn at 80x24; screen:\n${screen()}`);

    tmux.keys(SESSION, 'p');
    await waitFor(() => /PAUSED/.test(screen()), 10_000, 'PAUSED');
    tmux.keys(SESSION, 'q');
    await waitFor(() => !alive(), 10_000, 'the dashboard quits on q');
  } finally {
    if (!stopped) await sink.stop!();
  }
});

test('run --dashboard (in-process): shows events and routed log lines, and stop() restores the terminal', { timeout: 60_000 }, async () => {
  const s = 'inproc';
  const cmd = `cd ${root} && node --import tsx test/dashboard/helpers/in-process.ts; sleep 30`;
  tmux.start(s, cmd);
  const cap = () => {
    try {
      return tmux.screen(s);
    } catch {
      return '';
    }
  };
  try {
    // events first, then the first health sample (systeminformation) fills the Kiosk panel
    const shown = await waitFor(() => (/Emotions entered \(5 events\)/.test(cap()) && /broker none/.test(cap()) ? cap() : null), 30_000, `in-process dashboard; screen:\n${cap()}`);
    assert.match(shown, /inproc ONLINE/);
    assert.match(shown, /#4 surprise/);
    assert.match(shown, /broker none \(MQTT off\)/);
    assert.match(shown, /WARN {2}\[kiosk\] camera hiccup/);
    // the log line is inside the events panel (a bordered line), not scribbled over the layout
    assert.ok(shown.split('\n').some((l) => /^x.*camera hiccup.*x$/.test(l)), shown);
    // escapes in a log line are stripped: the text shows, inert, inside the panel; the pane title is untouched
    assert.ok(shown.split('\n').some((l) => /^x.*stream said \]0;PWNED\[2J\[31mEVILRED2J done.*x$/.test(l)), shown);
    assert.doesNotMatch(tmux.title(s), /PWNED/);
    const pid = String(tmux.pid(s));
    // the pane's shell runs node as its only child: signal that process by its id
    const child = Number(execFileSync('pgrep', ['-P', pid], { encoding: 'utf8' }).trim().split('\n')[0]);
    process.kill(child, 'SIGUSR2');
    const after = await waitFor(() => (/terminal restored/.test(cap()) ? cap() : null), 15_000, `terminal restored; screen:\n${cap()}`);
    assert.doesNotMatch(after, /Emotions entered/, 'the dashboard left the screen');
    assert.match(after, /after the dashboard: back on stderr/);
  } finally {
    try {
      tmux.run('kill-session', '-t', s);
    } catch {
      /* gone */
    }
  }
});
