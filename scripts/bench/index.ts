/**
 * `npm run bench`: prints figures for each area, each with its baseline measured in the same run (machines here are
 * noisy, so only ratios within one run are comparable). Benchmarks are not tests: they assert nothing.
 *   npm run bench                 all areas
 *   npm run bench -- pipeline mqtt  only these
 *   npm run bench -- soak [--minutes 10] [--fast]   the soak (never part of "all": it runs for minutes)
 *   npm run bench -- views [--model m.int8.onnx] [--out f.json]   per-face cost of each test-time view set (issue 13)
 */
const areas: Record<string, () => Promise<void>> = {
  pipeline: async () => (await import('./pipeline.js')).benchPipeline(),
  model: async () => (await import('./model.js')).benchModel(),
  views: async () => (await import('./views.js')).benchViews(process.argv.slice(2)),
  training: async () => (await import('./training.js')).benchTraining(),
  mqtt: async () => (await import('./mqtt.js')).benchMqtt(),
  soak: async () => (await import('./soak.js')).benchSoak(process.argv.slice(2)),
};
/** Areas only run when named. */
const onDemand = new Set(['soak']);
/** Options that take a value (`--minutes 30`): the value is not an area name. */
const valued = new Set(['--minutes', '--clip', '--restart-every', '--sample-every', '--model', '--out']);

const argv = process.argv.slice(2);
const wanted = argv.filter((a, i) => !a.startsWith('-') && !valued.has(argv[i - 1] ?? ''));
const unknown = wanted.filter((w) => !(w in areas));
if (unknown.length) {
  console.error(`unknown bench area(s): ${unknown.join(', ')}; known: ${Object.keys(areas).join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const [name, run] of Object.entries(areas)) {
  if (wanted.length ? !wanted.includes(name) : onDemand.has(name)) continue;
  console.log(`\n=== bench: ${name} ===`);
  const t0 = performance.now();
  try {
    await run();
  } catch (err) {
    failed++;
    console.error(`bench ${name} failed: ${(err as Error).stack ?? err}`);
  }
  console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
process.exit(failed ? 1 : 0);
