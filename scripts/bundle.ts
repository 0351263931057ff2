/**
 * `npm run bundle`: one archive that device/setup.sh installs on a device.
 *
 *   emotion-kiosk-<version>-<hash>/
 *     dist/ models/ haarcascades/ device/ package.json package-lock.json .npmrc README.md
 *     BUNDLE_ID       <version>-<hash of the content>: the release directory name on the device
 *     BUNDLE.json     what is inside, from which commit, when
 *     npm-cache/      every production dependency's tarball (npm's cache format), so that setup.sh's
 *                     `npm ci --offline` needs no registry; the native OpenCV addon is compiled on the device
 *                     against the device's OpenCV (arm64), never shipped prebuilt.
 *
 * Options: --out DIR (default dist/bundle), --models-dir DIR (default models/), --no-npm-cache, --skip-build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { checkBundleImports } from './bundle-imports.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export class BundleError extends Error {}

/** Folders of src/ that only the training host uses; the runtime build (tsconfig.json) leaves them out. */
export const DEV_ONLY_DIST = ['training', 'onnx'];

/** Every file under `dir` (relative, sorted), skipping `exclude`d relative prefixes. */
export function listFiles(dir: string, exclude: string[] = [], base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const abs = path.join(dir, name);
    const rel = path.relative(base, abs);
    if (exclude.some((e) => rel === e || rel.startsWith(e + path.sep))) continue;
    if (statSync(abs).isDirectory()) out.push(...listFiles(abs, exclude, base));
    else out.push(rel);
  }
  return out;
}

/** A short, stable hash of the files' paths and contents: the same content always gives the same release id. */
export function contentHash(dir: string, files: string[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort()) {
    h.update(f + '\0');
    h.update(readFileSync(path.join(dir, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 12);
}

function run(cmd: string, args: string[], cwd: string, what: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: process.env });
  if (r.status !== 0) throw new BundleError(`${what} failed (${cmd} ${args.join(' ')} exited ${r.status ?? r.signal})`);
}

function gitDescribe(): string | undefined {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    return sha || undefined;
  } catch {
    return undefined;
  }
}

export interface BundleOptions {
  out: string;
  modelsDir: string;
  npmCache: boolean;
  build: boolean;
}

export async function makeBundle(opts: BundleOptions): Promise<string> {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  if (!opts.build && !existsSync(path.join(root, 'dist', 'cli', 'main.js'))) throw new BundleError('dist/cli/main.js is missing: run npm run build (or drop --skip-build)');
  const modelsDir = path.resolve(opts.modelsDir);
  if (!existsSync(modelsDir)) throw new BundleError(`models dir ${modelsDir} does not exist`);
  const models = readdirSync(modelsDir).filter((f) => f.endsWith('.onnx'));
  for (const m of models) {
    if (!existsSync(path.join(modelsDir, m.replace(/\.onnx$/, '.json')))) throw new BundleError(`model ${m} in ${modelsDir} has no manifest ${m.replace(/\.onnx$/, '.json')} next to it`);
  }
  if (models.length === 0) process.stderr.write(`bundle: WARNING: no .onnx model in ${modelsDir}: the device's doctor will fail on the model until one is installed\n`);

  const stage = mkdtempSync(path.join(os.tmpdir(), 'ek-bundle-'));
  try {
    const inner = path.join(stage, 'app');
    mkdirSync(inner);
    if (opts.build) {
      // The runtime build (tsconfig.json: src/ without the training toolchain), compiled straight into the bundle:
      // nothing stale from an earlier build of dist/ can slip in.
      process.stderr.write('bundle: building the runtime (tsc -p tsconfig.json)...\n');
      run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', path.join(inner, 'dist')], root, 'the TypeScript build');
    } else {
      // The output dir may sit inside dist/ (the default): never bundle earlier bundles.
      const distRoot = path.join(root, 'dist');
      const outRel = path.relative(distRoot, path.resolve(opts.out));
      const outInsideDist = outRel !== '' && !outRel.startsWith('..') && !path.isAbsolute(outRel);
      for (const dev of DEV_ONLY_DIST) {
        if (existsSync(path.join(distRoot, dev))) throw new BundleError(`dist/${dev} is left from an older build (the training toolchain is not part of the runtime): delete dist/ and rebuild, or drop --skip-build`);
      }
      cpSync(distRoot, path.join(inner, 'dist'), {
        recursive: true,
        filter: (src) => {
          const rel = path.relative(distRoot, src);
          return !(outInsideDist && (rel === outRel || rel.startsWith(outRel + path.sep)));
        },
      });
    }
    cpSync(path.join(root, 'device'), path.join(inner, 'device'), { recursive: true });
    cpSync(path.join(root, 'haarcascades'), path.join(inner, 'haarcascades'), { recursive: true });
    mkdirSync(path.join(inner, 'models'));
    for (const f of readdirSync(modelsDir).filter((f) => /\.(onnx|json)$/.test(f))) cpSync(path.join(modelsDir, f), path.join(inner, 'models', f));
    for (const f of ['package.json', 'package-lock.json', '.npmrc', 'README.md', 'LICENSE']) {
      if (existsSync(path.join(root, f))) cpSync(path.join(root, f), path.join(inner, f));
    }
    const files = listFiles(inner);
    const violations = checkBundleImports(inner, files.filter((f) => f.startsWith('dist' + path.sep)));
    if (violations.length > 0) {
      throw new BundleError(
        `the runtime imports what a device will not have:\n${violations.map((v) => `  ${v.file}: '${v.specifier}' (${v.why})`).join('\n')}`,
      );
    }
    const id = `${pkg.version}-${contentHash(inner, files)}`;
    writeFileSync(path.join(inner, 'BUNDLE_ID'), id + '\n');
    writeFileSync(
      path.join(inner, 'BUNDLE.json'),
      JSON.stringify({ id, version: pkg.version, git: gitDescribe() ?? null, createdAt: new Date().toISOString(), models, files: files.length, npmCache: opts.npmCache }, null, 2) + '\n',
    );

    if (opts.npmCache) {
      // Fill an npm cache with exactly the production dependencies of the lock file (no install scripts run here).
      process.stderr.write('bundle: collecting production dependencies into npm-cache (from the registry)...\n');
      const scratch = path.join(stage, 'scratch');
      mkdirSync(scratch);
      for (const f of ['package.json', 'package-lock.json', '.npmrc']) cpSync(path.join(inner, f), path.join(scratch, f));
      run('npm', ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', path.join(inner, 'npm-cache')], scratch, 'filling the npm cache');
      rmSync(path.join(inner, 'npm-cache', '_logs'), { recursive: true, force: true });
    }

    const name = `emotion-kiosk-${id}`;
    const top = path.join(stage, name);
    cpSync(inner, top, { recursive: true });
    rmSync(inner, { recursive: true, force: true });
    mkdirSync(path.resolve(opts.out), { recursive: true });
    const archive = path.join(path.resolve(opts.out), `${name}.tar.gz`);
    run('tar', ['-czf', archive, '--owner=0', '--group=0', '-C', stage, name], stage, 'writing the archive');
    return archive;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const program = new Command()
    .name('npm run bundle --')
    .description('make the release bundle device/setup.sh installs')
    .option('--out <dir>', 'where to write the .tar.gz', path.join(root, 'dist', 'bundle'))
    .option('--models-dir <dir>', 'take the .onnx models and their manifests from here', path.join(root, 'models'))
    .option('--no-npm-cache', 'leave out the dependency cache (smaller; the device then needs the npm registry)')
    .option('--skip-build', 'use the existing dist/ instead of running tsc')
    .parse(process.argv);
  const o = program.opts<{ out: string; modelsDir: string; npmCache: boolean; skipBuild?: boolean }>();
  const archive = await makeBundle({ out: o.out, modelsDir: o.modelsDir, npmCache: o.npmCache, build: !o.skipBuild });
  process.stdout.write(`${archive}\n`);
  process.stderr.write(`bundle: ${archive} (${(statSync(archive).size / 1024 / 1024).toFixed(1)} MiB)\n`);
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  main().catch((err: unknown) => {
    process.stderr.write(`bundle: ${err instanceof BundleError ? err.message : err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
