/**
 * Writes (or rewrites) a run's report: <run>/report/{README.md, metrics.json, *.png}.
 *
 *   node --import tsx scripts/report.ts --run runs/<name> [--ablation runs/<other> ...] [--note "text" ...]
 *     [--copy-to models/reports/<name>]
 */
import { cp, mkdir } from 'node:fs/promises';
import { Command } from 'commander';
import { writeRunReport } from '../src/training/report.js';

const o = new Command()
  .requiredOption('--run <dir>', 'run folder')
  .option('--ablation <dir...>', 'other runs to summarise in the ablation table', [] as string[])
  .option('--note <text...>', 'free-text notes for the summary (e.g. how the run was resumed)', [] as string[])
  .option('--copy-to <dir>', 'also copy the report (not the weights) to this folder, e.g. models/reports/<name>')
  .parse()
  .opts();

const log = (l: string) => process.stdout.write(l + '\n');
try {
  const dir = await writeRunReport(o['run'], log, o['ablation'], o['note']);
  if (o['copyTo']) {
    await mkdir(o['copyTo'], { recursive: true });
    await cp(dir, o['copyTo'], { recursive: true });
    log(`copied to ${o['copyTo']}`);
  }
} catch (err) {
  log(`error: ${(err as Error).message}`);
  process.exit(1);
}
