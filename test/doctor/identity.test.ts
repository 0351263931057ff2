/**
 * Issue 11, defect 2: device identity. Every unnamed Pi is `raspberrypi`; with the host name as the device id two such
 * kiosks share the MQTT client id and disconnect each other every second. Now a distribution-default host name gets a
 * stable suffix from /etc/machine-id (or the board serial), and `doctor` warns about the name and catches a second
 * client with this device's id on the broker. Tested with two real kiosk MQTT sinks on a real mosquitto.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { checkIdentity } from '../../src/doctor/identity.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import { createMqttSink, type MqttSink } from '../../src/mqtt/index.js';
import { defaultDeviceId } from '../../src/system/index.js';
import { deriveDeviceIdentity, isDefaultHostname, readIdentityFacts, serialFromCpuinfo, type IdentityFacts } from '../../src/system/identity.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { megamindVideo } from '../helpers/fixtures.js';
import { Collector } from '../mqtt/helpers/collector.js';
import { kioskConfig, MODEL } from '../mqtt/helpers/fixtures.js';
import { Mosquitto, waitFor } from '../mqtt/helpers/mosquitto.js';

const PI_A: IdentityFacts = { hostname: 'raspberrypi', machineId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0', serial: undefined };
const PI_B: IdentityFacts = { hostname: 'raspberrypi', machineId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', serial: undefined };

test('default host names are recognised; chosen ones are not', () => {
  for (const h of ['raspberrypi', 'RaspberryPi', 'ubuntu', 'debian', 'localhost', 'localhost.localdomain', 'jetson', 'jetson-nano', 'jetson-orin-agx', 'tegra-ubuntu', 'dietpi', 'orangepi5', '']) assert.ok(isDefaultHostname(h), h);
  for (const h of ['kiosk-lobby', 'pi-entrance-2', 'store42-cam', 'raspberrypi2-lab', 'vm']) assert.ok(!isDefaultHostname(h), h);
});

test('two Pis both named raspberrypi get distinct, stable ids derived from their machine ids; a chosen name is kept', () => {
  const a = deriveDeviceIdentity(PI_A);
  const b = deriveDeviceIdentity(PI_B);
  assert.match(a.id, /^raspberrypi-[0-9a-f]{8}$/);
  assert.notEqual(a.id, b.id);
  assert.equal(deriveDeviceIdentity({ ...PI_A }).id, a.id, 'stable: the same machine gives the same id');
  assert.equal(a.how, 'derived');
  assert.match(a.note, /host name "raspberrypi" is a distribution default, so a stable suffix was derived from \/etc\/machine-id/);
  assert.ok(!a.id.includes(PI_A.machineId!.slice(0, 8)), 'the machine id itself is not published');
  // The board serial tells apart two cards cloned from one image (same machine-id).
  assert.notEqual(deriveDeviceIdentity({ ...PI_A, serial: '10000000abcdef01' }).id, deriveDeviceIdentity({ ...PI_A, serial: '10000000abcdef02' }).id);
  assert.match(deriveDeviceIdentity({ hostname: 'jetson', machineId: undefined, serial: '1423020077512' }).id, /^jetson-[0-9a-f]{8}$/);
  assert.deepEqual(deriveDeviceIdentity({ hostname: 'kiosk-lobby', machineId: PI_A.machineId, serial: undefined }).id, 'kiosk-lobby');
  assert.equal(deriveDeviceIdentity({ hostname: 'front.door.local', machineId: undefined, serial: undefined }).id, 'front_door_local');
  assert.equal(deriveDeviceIdentity(PI_A, 'my-kiosk').id, 'my-kiosk');
  const bare = deriveDeviceIdentity({ hostname: 'raspberrypi', machineId: undefined, serial: undefined });
  assert.equal(bare.id, 'raspberrypi');
  assert.match(bare.note, /no \/etc\/machine-id or board serial/);
});

test('facts from the files: machine-id, device-tree serial (NUL-terminated), /proc/cpuinfo Serial; uninitialized ids ignored', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ek-id-'));
  try {
    mkdirSync(path.join(root, 'etc'));
    mkdirSync(path.join(root, 'proc/device-tree'), { recursive: true });
    writeFileSync(path.join(root, 'etc/machine-id'), 'uninitialized\n');
    writeFileSync(path.join(root, 'proc/cpuinfo'), 'processor\t: 0\nHardware\t: BCM2835\nSerial\t\t: 10000000deadbeef\nModel\t\t: Raspberry Pi 4\n');
    assert.deepEqual({ ...readIdentityFacts(root), hostname: 'x' }, { hostname: 'x', machineId: undefined, serial: '10000000deadbeef' });
    writeFileSync(path.join(root, 'etc/machine-id'), `${PI_A.machineId}\n`);
    writeFileSync(path.join(root, 'proc/device-tree/serial-number'), '1423020077512\0');
    assert.deepEqual({ ...readIdentityFacts(root), hostname: 'x' }, { hostname: 'x', machineId: PI_A.machineId, serial: '1423020077512' });
    assert.equal(serialFromCpuinfo('Serial\t\t: 0000000000000000\n'), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  // This machine: whatever its name, the default id is the one the identity module gives.
  assert.equal(defaultDeviceId(), deriveDeviceIdentity(readIdentityFacts()).id);
});

test('checkIdentity: ok for a chosen name, warn for a default one, fail when the broker shows another client with the id', () => {
  const chosen = deriveDeviceIdentity({ hostname: 'kiosk-lobby', machineId: undefined, serial: undefined });
  assert.equal(checkIdentity(chosen).status, 'ok');
  const w = checkIdentity(deriveDeviceIdentity(PI_A));
  assert.equal(w.status, 'warn');
  assert.match(w.summary, /host name "raspberrypi" is a distribution default; the id is derived from \/etc\/machine-id: raspberrypi-/);
  assert.match(w.fix!, /hostnamectl set-hostname/);
  assert.equal(checkIdentity(deriveDeviceIdentity({ hostname: 'ubuntu', machineId: undefined, serial: undefined })).status, 'warn', 'never a preflight failure over a name');
  const flapping = { watched: true as const, watchMs: 3000, serviceActive: true, messages: [{ state: 'online', retained: true }, { state: 'online', retained: false }, { state: 'offline', reason: 'connection_lost', retained: false }, { state: 'online', retained: false }] };
  const f = checkIdentity(chosen, flapping);
  assert.equal(f.status, 'fail');
  assert.match(f.summary, /another client uses device id kiosk-lobby: in 3 s its availability went online 2 time\(s\) and was lost 1 time\(s\)/);
  const elsewhere = checkIdentity(chosen, { watched: true, watchMs: 3000, serviceActive: false, messages: [{ state: 'online', retained: true }] });
  assert.equal(elsewhere.status, 'warn');
  assert.match(elsewhere.summary, /is online, but the kiosk service is not running here/);
  assert.equal(checkIdentity(chosen, { watched: true, watchMs: 3000, serviceActive: true, messages: [{ state: 'online', retained: true }] }).status, 'ok', 'this kiosk itself');
});

// ---- two kiosks on a real mosquitto ----

let broker: Mosquitto;
let tmp: string;
let model: string;
const sinks: MqttSink[] = [];

before(async () => {
  broker = await Mosquitto.start();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-identity-'));
  model = await makeUntrainedModel(path.join(tmp, 'model'));
});
after(async () => {
  for (const s of sinks) await s.stop?.().catch(() => undefined);
  await broker.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function kiosk(name: string, deviceId: string): Promise<MqttSink> {
  const sink = (await createMqttSink(kioskConfig({ broker: broker.url, deviceId, statsIntervalS: 3600 }, path.join(tmp, name)), { logger: silentLogger, model: MODEL }))!;
  sinks.push(sink);
  await sink.start!();
  return sink;
}

function doctorConfig(name: string): string {
  const f = path.join(tmp, `${name}.yaml`);
  writeFileSync(f, `source: ${megamindVideo}\nmodel:\n  path: ${model}\nmqtt:\n  broker: ${broker.url}\ndataDir: ${path.join(tmp, name)}\n`);
  return f;
}

async function stopAll(): Promise<void> {
  while (sinks.length) await sinks.pop()!.stop!();
}

test('two kiosks with the old default id (both "raspberrypi"): they disconnect each other and doctor fails the identity check', async () => {
  const watch = await Collector.connect(broker.url, ['emotion-kiosk/raspberrypi/availability']);
  try {
    const old = PI_A.hostname; // the id before the fix: the host name, the same on both
    await kiosk('a', old);
    await kiosk('b', old);
    await waitFor(() => watch.messages.filter((m) => !m.retain && /"online"/.test(m.text)).length >= 4, 20_000, 'the two kiosks taking the client id from each other');
    const report = await runDoctor({
      configFile: doctorConfig('old'),
      env: {},
      readCamera: false,
      serviceActive: async () => true,
      identityFacts: { hostname: 'raspberrypi', machineId: undefined, serial: undefined },
    });
    const id = report.checks.find((c) => c.id === 'identity')!;
    assert.equal(id.status, 'fail', JSON.stringify(id));
    assert.match(id.summary, /another client uses device id raspberrypi/);
    assert.equal(report.exitCode, 1);
  } finally {
    await watch.close();
    await stopAll();
  }
});

test('two kiosks on hosts named raspberrypi with the derived ids: each keeps its connection; doctor only warns about the name', async () => {
  const a = deriveDeviceIdentity(PI_A).id;
  const b = deriveDeviceIdentity(PI_B).id;
  const watch = await Collector.connect(broker.url, [`emotion-kiosk/${a}/availability`, `emotion-kiosk/${b}/availability`]);
  try {
    const ka = await kiosk('da', a);
    const kb = await kiosk('db', b);
    await waitFor(() => ka.status().connected && kb.status().connected, 10_000, 'both connected');
    const report = await runDoctor({ configFile: doctorConfig('new'), env: {}, readCamera: false, serviceActive: async () => true, identityFacts: PI_A, identityWatchMs: 3000 });
    const id = report.checks.find((c) => c.id === 'identity')!;
    assert.equal(id.status, 'warn', JSON.stringify(id));
    assert.match(id.summary, new RegExp(`derived from /etc/machine-id: ${a}; no other client with this id seen on the broker in 3 s`));
    // Over the doctor's 3 s watch and all before it, each device connected exactly once: nobody was kicked.
    for (const dev of [a, b]) {
      const onlines = watch.messages.filter((m) => m.topic === `emotion-kiosk/${dev}/availability` && /"online"/.test(m.text));
      assert.equal(onlines.length, 1, `${dev}: ${JSON.stringify(watch.messages.map((m) => [m.topic, m.text]))}`);
      assert.ok(!watch.messages.some((m) => m.topic === `emotion-kiosk/${dev}/availability` && /connection_lost/.test(m.text)));
    }
    assert.ok(ka.status().connected && kb.status().connected);
  } finally {
    await watch.close();
    await stopAll();
  }
});
