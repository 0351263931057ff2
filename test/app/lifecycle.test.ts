/** The lifecycle: teardowns in reverse order, each isolated, only for what started; StartupError wrapping; idempotent stop. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lifecycle, StartupError } from '../../src/app/lifecycle.js';

function recorder() {
  const log: string[] = [];
  return { log, logger: { error: (m: string) => log.push(`ERROR ${m}`), debug: () => {} } };
}

test('resources are stopped in reverse order of their start; a throwing teardown does not skip the others', async () => {
  const { log, logger } = recorder();
  const order: string[] = [];
  const life = new Lifecycle(logger);
  await life.start('model', () => 'm', (r) => void order.push(`stop ${r}`));
  await life.start('source', async () => 's', async () => {
    order.push('stop s');
    throw new Error('camera busy');
  });
  life.defer('signals', () => void order.push('off signals'));
  await life.start('sink', () => 'k', (r) => void order.push(`stop ${r}`));
  assert.equal(life.size, 4);
  const failures = await life.stop();
  assert.deepEqual(order, ['stop k', 'off signals', 'stop s', 'stop m']);
  assert.deepEqual(failures.map((f) => f.name), ['source']);
  assert.deepEqual(log, ['ERROR stopping source failed: camera busy']);
  assert.equal(life.size, 0);
  assert.equal(await life.stop(), failures, 'a second stop returns the first one’s result');
});

test('a failed start unwinds what started before it, and its own teardown is never called', async () => {
  const { logger } = recorder();
  const stopped: string[] = [];
  await assert.rejects(
    Lifecycle.run(logger, async (life) => {
      await life.start('model', () => 1, () => void stopped.push('model'));
      await life.start('display', () => 2, () => void stopped.push('display'));
      await life.start('mqtt', () => {
        throw new Error('CA file /etc/ca.pem not found');
      }, () => void stopped.push('mqtt'), () => true);
    }),
    (err: unknown) => err instanceof StartupError && err.exitCode === 2 && err.message === 'CA file /etc/ca.pem not found',
  );
  assert.deepEqual(stopped, ['display', 'model']);
});

test('errors not marked as start-up errors pass through unchanged; StartupError is never wrapped twice', async () => {
  const { logger } = recorder();
  const life = new Lifecycle(logger);
  const bug = new TypeError('x is undefined');
  await assert.rejects(life.start('a', () => { throw bug; }, () => {}), (e) => e === bug);
  const se = new StartupError('config: bad');
  await assert.rejects(life.start('b', () => { throw se; }, () => {}, () => true), (e) => e === se);
  await life.stop();
  await assert.rejects(life.start('late', () => 1, () => {}), /the kiosk is stopping/);
});
