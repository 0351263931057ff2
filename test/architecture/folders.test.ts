/**
 * The house rules of src/: a folder is entered only through its index.ts (its public face), the folders import each
 * other without a cycle, and the runtime never imports the training toolchain (src/training, src/onnx).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { folderCycle, folderImports, readSrc, structureCounts } from '../../scripts/lib/folder-imports.js';
import { repoRoot } from '../helpers/fixtures.js';

const src = readSrc(path.join(repoRoot, 'src'));
const imports = folderImports(src);

test('the reader sees static, re-exported and dynamic imports, and keeps a folder\'s own imports out', () => {
  const found = folderImports([
    { file: 'a/x.ts', text: "import { p } from '../b/inner.js';\nimport type { T } from '../c/index.js';\nexport { q } from '../d/y.js';\nimport { own } from './z.js';\n// from '../e/comment.js' in a comment\nconst m = await import('../f/lazy.js');\n" },
    { file: 'top.ts', text: "import { r } from './b/index.js';\n" },
  ]);
  assert.deepEqual(
    found.map((i) => `${i.from}->${i.to}/${i.module}`),
    ['a->b/inner', 'a->c/index', 'a->d/y', 'a->f/lazy'],
  );
  assert.deepEqual(folderCycle([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }]), ['a', 'b', 'c', 'a']);
  assert.equal(folderCycle([{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'c' }]), undefined);
});

test('every import that leaves its folder goes through the other folder\'s index.ts', () => {
  const internal = imports.filter((i) => i.module !== 'index').map((i) => `src/${i.file}: '${i.specifier}'`);
  assert.deepEqual(internal, [], `imports of a sibling folder's internals (export what is needed from its index.ts):\n${internal.join('\n')}`);
  const folders = new Set(imports.map((i) => i.to));
  for (const f of folders) assert.ok(src.some((s) => s.file === `${f}/index.ts`), `src/${f}/index.ts missing`);
});

test('no cycle between folders', () => {
  const cycle = folderCycle(imports);
  assert.equal(cycle, undefined, `folder cycle: ${cycle?.join(' -> ')}`);
});

test('the runtime never imports the training toolchain', () => {
  const toolchain = new Set(['training', 'onnx']);
  const bad = imports.filter((i) => !toolchain.has(i.from) && toolchain.has(i.to)).map((i) => `src/${i.file}: '${i.specifier}'`);
  assert.deepEqual(bad, []);
});

test('the counts add up', () => {
  const c = structureCounts(src, imports);
  assert.equal(c.files, src.length);
  assert.ok(c.fileFolderPairs <= c.statements && c.folderPairs <= c.fileFolderPairs);
});
