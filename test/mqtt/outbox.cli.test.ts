/** `emotion-kiosk run` beside a process that has the outbox open: exit 2 with the message of issue 10, nothing touched. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { Outbox } from '../../src/mqtt/outbox.js';
import { makeUntrainedModel } from '../../src/onnx/untrained.js';
import { silentLogger } from '../../src/util/logger.js';
import { megamindVideo } from '../helpers/fixtures.js';
import { tempDir } from './helpers/mosquitto.js';

const tmp = tempDir('outbox-cli');
after(() => rmSync(tmp, { recursive: true, force: true }));
const main = path.resolve(import.meta.dirname, '../../src/cli/main.ts');

test('a second kiosk on the same outbox exits 2: "outbox <dir> is in use by pid N (...)"', async () => {
  const dir = path.join(tmp, 'data', 'outbox');
  const held = await Outbox.open({ dir, maxEvents: 100, maxAgeMs: 3_600_000, logger: silentLogger });
  await held.append('t', () => 'kept');
  const before = readdirSync(dir).sort();
  const model = await makeUntrainedModel(path.join(tmp, 'model'));
  const config = path.join(tmp, 'config.yaml');
  writeFileSync(config, `dataDir: ${path.join(tmp, 'data')}\nmqtt:\n  broker: mqtt://127.0.0.1:1\n`);
  let code = 0;
  let stderr = '';
  try {
    await promisify(execFile)(process.execPath, ['--import', 'tsx', main, 'run', '--config', config, '--headless', '--events', 'none', '--source', megamindVideo, '--model', model, '--max-frames', '3']);
  } catch (err) {
    ({ code, stderr } = err as { code: number; stderr: string });
  }
  assert.equal(code, 2, stderr);
  assert.ok(
    stderr.includes(`outbox ${dir} is in use by pid ${process.pid} (is the emotion-kiosk service running? stop it first or use another mqtt.outbox.dir)`),
    stderr,
  );
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  assert.deepEqual(readdirSync(dir).sort(), before, 'the second kiosk wrote nothing into the outbox');
  await held.close();
});
