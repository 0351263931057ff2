/**
 * The dashboard shows the truth at 80x24 (issue 12), checked on the real screen: the dashboard command in tmux
 * (80x24) reading a real mosquitto, fed hand-made contract messages (so the test decides every figure):
 * - all seven emotions in the bar chart (labels and counts) and in the mix chart's legend;
 * - a face whose stable label has a low confidence is shown as uncertain, never as a bare "surprise 2%";
 * - the stats' age is shown ("12 s ago", from the stats' own timestamp);
 * - when the device goes offline its last figures are marked STALE and the broker is no longer "connected".
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { SHORT } from '../../src/dashboard/model.js';
import { EMOTIONS } from '../../src/model/labels.js';
import { MODEL, scores } from '../mqtt/helpers/fixtures.js';
import { Mosquitto, waitFor } from '../mqtt/helpers/mosquitto.js';
import { Tmux } from './helpers/tmux.js';

const root = path.resolve(import.meta.dirname, '../..');
const PREFIX = 'ek';
const ID = 'truthkiosk';
const SESSION = 'truth';
const tmux = new Tmux();
let broker: Mosquitto;
before(async () => {
  broker = await Mosquitto.start();
});
after(async () => {
  tmux.kill();
  await broker.stop();
});

const topic = (kind: string) => `${PREFIX}/${ID}/${kind}`;

// Payloads written out by hand (the contract is the judge): the test does not depend on how the kiosk builds them.
const online = (timestamp: number) => ({ version: 1, deviceId: ID, state: 'online', timestamp });
const lastWill = () => ({ version: 1, deviceId: ID, state: 'offline', reason: 'connection_lost' });
function appeared(seq: number, emotion: (typeof EMOTIONS)[number], t: number) {
  return {
    version: 1, deviceId: ID, seq, eventId: randomUUID(), type: 'appeared', faceId: 10 + seq, timestamp: t, time: new Date(t).toISOString(), firstSeen: t,
    emotion, confidence: 0.7, scores: scores(emotion), box: { x: 0, y: 0, width: 60, height: 60 }, frameIndex: seq, frameTimestamp: t, model: MODEL,
  };
}

function statsAt(timestamp: number) {
  return {
    version: 1, deviceId: ID, timestamp, uptimeS: 600, systemUptimeS: 9000, fps: 14.5, frames: 435,
    latencyMs: { capture: 2, detect: 11, classify: 5 }, cpu: { loadPct: 35, temperatureC: 51.2 }, memory: { usedPct: 41, processRssMb: 180 },
    outbox: { pending: 0, dropped: 0, durable: true, unstored: 0 }, broker: { connected: true }, model: MODEL,
  };
}

function state(timestamp: number) {
  const emotions = Object.fromEntries(EMOTIONS.map((e) => [e, 0])) as Record<string, number>;
  emotions.happy = 1;
  emotions.surprise = 1;
  return {
    version: 1, deviceId: ID, timestamp, faces: 2, emotions, model: MODEL,
    facesInView: [
      { faceId: 1, emotion: 'happy', confidence: 0.81, firstSeen: timestamp - 5000 },
      // a stable label the tracker kept (hysteresis) while its confidence fell: it must not read as a fact
      { faceId: 2, emotion: 'surprise', confidence: 0.02, firstSeen: timestamp - 9000 },
    ],
  };
}

/** Rows `top..bottom` (inclusive), columns `left..right` (exclusive) of a capture. */
function region(screen: string, top: number, bottom: number, left: number, right: number): string {
  return screen.split('\n').slice(top, bottom + 1).map((l) => l.slice(left, right)).join('\n');
}

test('80x24: seven emotions in the bar chart and legend, uncertain labels, stats age, STALE when offline', { timeout: 90_000 }, async () => {
  const pub = await mqtt.connectAsync(broker.url, { clientId: 'truth-publisher' });
  try {
    const now = Date.now();
    const retained = { qos: 1 as const, retain: true };
    await pub.publishAsync(topic('availability'), JSON.stringify(online(now)), retained);
    await pub.publishAsync(topic('state'), JSON.stringify(state(now)), retained);
    // measured 12 s before the dashboard reads it
    await pub.publishAsync(topic('stats'), JSON.stringify(statsAt(now - 12_000)), retained);

    tmux.start(SESSION, `cd ${root} && exec node --import tsx src/cli/main.ts dashboard --broker ${broker.url} --device all --topic-prefix ${PREFIX}`, 80, 24);
    await waitFor(() => /truthkiosk ONLINE/.test(tmux.screen(SESSION)) && /fps 14\.5/.test(tmux.screen(SESSION)), 40_000, `the kiosk online with stats; screen:\n${tmux.screen(SESSION)}`);

    // one event per emotion: every bar has a count of 1
    for (let i = 0; i < EMOTIONS.length; i++) await pub.publishAsync(topic('events'), JSON.stringify(appeared(i, EMOTIONS[i]!, Date.now())), { qos: 1 });
    const live = await waitFor(() => (/Emotions entered \(7 events\)/.test(tmux.screen(SESSION)) ? tmux.screen(SESSION) : null), 20_000, `7 events; screen:\n${tmux.screen(SESSION)}`);
    const lines = live.split('\n');
    assert.ok(lines.length >= 24 && lines.every((l) => l.length <= 80), live);

    // the bar chart (left half of the top panels): all seven labels on one row, each with its count above it
    const bar = region(live, 1, 11, 0, 40).split('\n');
    const labelRow = bar.findIndex((l) => l.includes(SHORT.angry));
    assert.ok(labelRow > 0, `bar labels; screen:\n${live}`);
    const labels = bar[labelRow]!;
    for (const e of EMOTIONS) assert.ok(labels.includes(SHORT[e]), `bar chart label ${SHORT[e]} (${e}) missing; screen:\n${live}`);
    for (const e of EMOTIONS) {
      const col = labels.indexOf(SHORT[e]);
      assert.equal(bar[labelRow - 1]!.slice(col, col + 1), '1', `count of ${e} above its label; screen:\n${live}`);
    }
    // the mix chart's legend (right half): every emotion by its full name, each on a row of its own
    const legend = region(live, 1, 11, 40, 80).split('\n');
    const rows = EMOTIONS.map((e) => legend.findIndex((l) => l.includes(e)));
    for (const [i, e] of EMOTIONS.entries()) assert.ok(rows[i]! >= 0, `legend entry ${e} missing; screen:\n${live}`);
    assert.equal(new Set(rows).size, EMOTIONS.length, `one legend row per emotion; screen:\n${live}`);

    // faces: the confident one as it is, the low-confidence stable label as uncertain, never a bare "surprise 2%"
    assert.match(live, /#1 happy +81%/);
    assert.match(live, /#2 surprise\? +2% unsure/);
    assert.doesNotMatch(live, /#2 surprise +2%/);

    // stats age from the stats' timestamp: at least the 12 s it was old when published
    const age = /stats (\d+) s ago/.exec(live);
    assert.ok(age && Number(age[1]) >= 12, `stats age shown; screen:\n${live}`);
    assert.match(live, /broker connected/);
    process.stdout.write(`# 80x24, device online:\n${live.split('\n').map((l) => `# ${l}`).join('\n')}\n`);

    // the device goes away (its last will): the last figures are STALE, the broker is not "connected"
    await pub.publishAsync(topic('availability'), JSON.stringify(lastWill()), retained);
    const off = await waitFor(() => (/truthkiosk OFFLINE/.test(tmux.screen(SESSION)) ? tmux.screen(SESSION) : null), 20_000, `offline; screen:\n${tmux.screen(SESSION)}`);
    assert.match(off, /STALE/);
    assert.doesNotMatch(off, /broker connected/);
    assert.match(off, /fps 14\.5/, 'the last figures stay, marked');
    assert.match(off, /stats \d+ s ago/);
    process.stdout.write(`# 80x24, device offline:\n${off.split('\n').map((l) => `# ${l}`).join('\n')}\n`);

    tmux.keys(SESSION, 'q');
    await waitFor(() => !tmux.alive(SESSION), 10_000, 'the dashboard quits on q');
  } finally {
    await pub.endAsync();
  }
});
