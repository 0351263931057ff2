/**
 * Writes (or rewrites) a run's report: <run>/report/{README.md, metrics.json, *.png}.
 *
 *   node --import tsx scripts/report.ts --run runs/<name> [--ablation runs/<other> ...] [--note "text" ...]
 *     [--copy-to models/reports/<name>] [--evaluation <dir>] [--interim]
 *
 * --evaluation: a folder with the validation tools' JSON (views.json from scripts/ablate-views.ts, views-cost.json
 * from `npm run bench -- views --out`, temperature.json from scripts/calibrate-temperature.ts, crop-calibration.json
 * from scripts/calibrate-crop.ts, clip.json from `emotion-kiosk evaluate --clip --json`): a section with each.
 * --interim: the run is still training; the report says so at the top.
 * To report on a run that is training without writing into it, copy its last/ and best/ to <tmp>/<name>/ first.
 */
import { cp, mkdir } from 'node:fs/promises';
import { Command } from 'commander';
import { writeRunReport } from '../src/training/report.js';

const o = new Command()
  .requiredOption('--run <dir>', 'run folder')
  .option('--ablation <dir...>', 'other runs to summarise in the ablation table', [] as string[])
  .option('--note <text...>', 'free-text notes for the summary (e.g. how the run was resumed)', [] as string[])
  .option('--copy-to <dir>', 'also copy the report (not the weights) to this folder, e.g. models/reports/<name>')
  .option('--evaluation <dir>', 'folder of the validation evaluation JSON files (views, cost, temperature, crop calibration, clip)')
  .option('--interim', 'the run is still training: say so at the top')
  .parse()
  .opts();

const log = (l: string) => process.stdout.write(l + '\n');
try {
  const dir = await writeRunReport(o['run'], log, o['ablation'], o['note'], { evaluation: o['evaluation'], interim: o['interim'] === true });
  if (o['copyTo']) {
    await mkdir(o['copyTo'], { recursive: true });
    await cp(dir, o['copyTo'], { recursive: true });
    log(`copied to ${o['copyTo']}`);
  }
} catch (err) {
  log(`error: ${(err as Error).message}`);
  process.exit(1);
}
