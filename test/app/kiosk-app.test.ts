/**
 * The kiosk's start-up through its lifecycle, as `emotion-kiosk run`: when a late resource cannot start (the MQTT
 * transport: a CA file that is not there, the embedded broker's port in use), everything started before it (camera,
 * model, the dashboard transport) is stopped in reverse order and the run exits 2 with the reason and no stack. Before
 * the lifecycle, the sinks started outside the try/finally: the camera and the model stayed open and the exit was 1.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { startEmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { cliPath, megamindVideo } from '../helpers/fixtures.js';

const execFileP = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-app-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function kiosk(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [cliPath, ...args], { env: { ...process.env, EMOTION_KIOSK_CONFIG: '' }, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The lifecycle's teardown lines (debug level), in the order they ran. */
const teardown = (stderr: string) => [...stderr.matchAll(/\[kiosk\/lifecycle\] stopping (.+)$/gm)].map((m) => m[1]);

test('a CA file that is not there: camera and model stopped (reverse order), exit 2 with the reason, no stack', async () => {
  const config = path.join(tmp, 'ca.yaml');
  writeFileSync(config, `mqtt:\n  broker: mqtts://127.0.0.1:1\n  ca: ${path.join(tmp, 'no-such-ca.pem')}\ndataDir: ${path.join(tmp, 'data-ca')}\n`);
  const r = await kiosk(['run', '--config', config, '--source', megamindVideo, '--headless', '--log-level', 'debug', '--max-frames', '5']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /emotion-kiosk run: .*no-such-ca\.pem/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.deepEqual(teardown(r.stderr), ['camera', 'face detector', 'model']);
});

test('the embedded broker’s port in use: the same unwinding, exit 2 with what to do', async () => {
  const busy = await startEmbeddedBroker(0);
  try {
    const config = path.join(tmp, 'port.yaml');
    writeFileSync(config, `mqtt:\n  broker: embedded\n  embeddedPort: ${busy.port}\ndataDir: ${path.join(tmp, 'data-port')}\n`);
    const r = await kiosk(['run', '--config', config, '--source', megamindVideo, '--headless', '--log-level', 'debug', '--max-frames', '5']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is in use .*mqtt\.embeddedPort/);
    assert.deepEqual(teardown(r.stderr), ['camera', 'face detector', 'model']);
  } finally {
    await busy.close();
  }
});

test('a run that ends normally stops everything it started, the last started first', async () => {
  const r = await kiosk(['run', '--source', megamindVideo, '--headless', '--broker', 'none', '--events', 'none', '--log-level', 'debug', '--max-frames', '5']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(teardown(r.stderr), ['signal handlers', 'camera', 'face detector', 'model']);
});
