/**
 * `npm run structure [-- --ref COMMIT ...] [--pairs]`: the shape of src/ — folders, files, lines, and the imports
 * between folders (statements, distinct file->folder and folder->folder pairs), for the working tree and for each
 * --ref (read from git, so a before/after needs no checkout). The runtime line leaves out the training toolchain
 * (src/training, src/onnx: built by tsconfig.training.json, never bundled). --pairs lists folder->folder counts.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { folderImports, readSrc, structureCounts, type SrcFile } from './lib/folder-imports.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOOLCHAIN = new Set(['training', 'onnx']);

function srcAt(ref: string): SrcFile[] {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20 });
  return git('ls-tree', '-r', '--name-only', ref, 'src')
    .split('\n')
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: f.slice('src/'.length), text: git('show', `${ref}:${f}`) }));
}

function line(label: string, files: SrcFile[]): string {
  const imports = folderImports(files);
  const all = structureCounts(files, imports);
  const runtimeFiles = files.filter((f) => !TOOLCHAIN.has(f.file.split('/')[0]!));
  const rt = structureCounts(runtimeFiles, folderImports(runtimeFiles));
  const viaIndex = imports.filter((i) => i.module === 'index').length;
  return [
    `${label}`,
    `  all of src/: ${all.folders} folders, ${all.files} files, ${all.lines} lines; imports between folders: ${all.statements} statements (${viaIndex} through the folder's index.ts), ${all.fileFolderPairs} file->folder pairs, ${all.folderPairs} folder->folder pairs`,
    `  runtime (without src/training, src/onnx): ${rt.folders} folders, ${rt.files} files, ${rt.lines} lines; ${rt.statements} statements, ${rt.fileFolderPairs} file->folder pairs, ${rt.folderPairs} folder->folder pairs`,
  ].join('\n');
}

const argv = process.argv.slice(2);
const refs = argv.flatMap((a, i) => (a === '--ref' && argv[i + 1] ? [argv[i + 1]!] : a.startsWith('--ref=') ? [a.slice(6)] : []));
for (const ref of refs) console.log(line(`at ${ref}:`, srcAt(ref)));
const now = readSrc(path.join(repoRoot, 'src'));
console.log(line('working tree:', now));
if (argv.includes('--pairs')) {
  const counts = new Map<string, number>();
  for (const i of folderImports(now)) counts.set(`${i.from} -> ${i.to}`, (counts.get(`${i.from} -> ${i.to}`) ?? 0) + 1);
  for (const [pair, n] of [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(`  ${String(n).padStart(3)}  ${pair}`);
}
