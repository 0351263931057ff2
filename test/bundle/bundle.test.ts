/**
 * The device bundle holds the runtime and nothing else: `npm run bundle` (without the dependency cache), unpacked,
 * has no training or ONNX-export code, and every import of its JavaScript resolves to a Node built-in, a file of the
 * bundle or a production dependency. The checker itself is shown to catch each kind of bad import.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { checkBundleImports, checkImports, importSpecifiers, packageName, productionPackages } from '../../scripts/bundle-imports.js';
import { listFiles, makeBundle } from '../../scripts/bundle.js';
import { repoRoot } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ek-bundle-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('import checker: built-ins, own files and production packages pass; dev packages and missing files do not', () => {
  const prod = productionPackages(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8'));
  assert.ok(prod.has('mqtt') && prod.has('onnxruntime-node') && prod.has('@u4/opencv4nodejs') && prod.has('@u4/opencv-build'));
  assert.ok(!prod.has('@tensorflow/tfjs') && !prod.has('onnx-proto') && !prod.has('typescript') && !prod.has('chart.js'));
  assert.equal(packageName('@scope/name/sub/path.js'), '@scope/name');
  assert.equal(packageName('yaml/util'), 'yaml');
  const src = "import fs from 'node:fs';\nimport os from 'os';\nexport * from './here.js';\nconst tf = await import('@tensorflow/tfjs');\nconst cv = require('@u4/opencv4nodejs');\n// import('chart.js') in a comment is no import\nimport x from './missing.js';";
  assert.deepEqual(importSpecifiers(src), ['node:fs', 'os', './here.js', '@tensorflow/tfjs', '@u4/opencv4nodejs', './missing.js']);
  const v = checkImports('/b/dist/a.js', importSpecifiers(src), prod, (p) => p === '/b/dist/here.js');
  assert.deepEqual(v.map((x) => x.specifier), ['@tensorflow/tfjs', './missing.js']);
});

test('npm run bundle: only the runtime, every import satisfiable on a device', async () => {
  const archive = await makeBundle({ out: path.join(tmp, 'out'), modelsDir: path.join(repoRoot, 'models'), npmCache: false, build: true });
  execFileSync('tar', ['-xzf', archive, '-C', tmp]);
  const top = path.join(tmp, path.basename(archive, '.tar.gz'));
  const files = listFiles(top);
  const dist = files.filter((f) => f.startsWith('dist/'));
  assert.ok(dist.includes('dist/cli/main.js') && dist.includes('dist/model/emotion-classifier.js'), 'the runtime is there');
  assert.deepEqual(dist.filter((f) => /^dist\/(training|onnx)\//.test(f)), [], 'no training or ONNX-export code');
  assert.deepEqual(checkBundleImports(top, dist), []);
  const bytes = statSync(archive).size;
  process.stdout.write(`# bundle ${path.basename(archive)}: ${(bytes / 1024 / 1024).toFixed(2)} MiB, ${files.length} files (${dist.length} under dist/)\n`);
});
