/**
 * The imports between src/'s folders: which file imports which folder through which module, read with TypeScript's
 * own pre-processor (static imports, `export ... from`, and `import('...')` with a literal path). Pure over the files'
 * texts; `readSrc` reads them. Used by test/architecture/folders.test.ts (each folder is entered through its index.ts,
 * no folder cycle) and by `npm run structure` (the counts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface FolderImport {
  /** The importing file, relative to src/ ("mqtt/outbox.ts"). */
  file: string;
  from: string;
  to: string;
  /** The imported module inside `to` ("index", "outbox"). */
  module: string;
  specifier: string;
}

export interface SrcFile {
  /** Relative to src/, with forward slashes. */
  file: string;
  text: string;
}

/** Every .ts file under src/ (recursively), relative paths sorted. */
export function readSrc(srcDir: string): SrcFile[] {
  const out: SrcFile[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push({ file: path.relative(srcDir, p).split(path.sep).join('/'), text: readFileSync(p, 'utf8') });
    }
  };
  walk(srcDir);
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/** The imports of each file that leave its folder (a file at src/'s top level belongs to no folder and is skipped). */
export function folderImports(files: readonly SrcFile[]): FolderImport[] {
  const out: FolderImport[] = [];
  for (const { file, text } of files) {
    const parts = file.split('/');
    if (parts.length < 2) continue;
    const from = parts[0]!;
    const { importedFiles } = ts.preProcessFile(text, true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (!specifier.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
      const [to, ...rest] = target.split('/');
      if (!to || to === from || to.startsWith('..') || rest.length === 0) continue;
      out.push({ file, from, to, module: rest.join('/').replace(/\.(js|ts)$/, ''), specifier });
    }
  }
  return out;
}

/** A folder cycle (["a", "b", "a"]) in the folder graph, or undefined when there is none. */
export function folderCycle(edges: readonly Pick<FolderImport, 'from' | 'to'>[]): string[] | undefined {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) (next.get(from) ?? next.set(from, new Set()).get(from)!).add(to);
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const m of [...(next.get(n) ?? [])].sort()) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...next.keys()].sort()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

export interface StructureCounts {
  folders: number;
  files: number;
  lines: number;
  /** Import statements (static and dynamic) that leave their folder. */
  statements: number;
  /** Distinct (file, folder it imports) pairs. */
  fileFolderPairs: number;
  /** Distinct (folder, folder) edges. */
  folderPairs: number;
}

export function structureCounts(files: readonly SrcFile[], imports = folderImports(files)): StructureCounts {
  return {
    folders: new Set(files.filter((f) => f.file.includes('/')).map((f) => f.file.split('/')[0])).size,
    files: files.length,
    lines: files.reduce((n, f) => n + f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0), 0),
    statements: imports.length,
    fileFolderPairs: new Set(imports.map((i) => `${i.file} ${i.to}`)).size,
    folderPairs: new Set(imports.map((i) => `${i.from} ${i.to}`)).size,
  };
}
