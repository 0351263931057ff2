/**
 * What the device bundle's JavaScript imports, and whether a device can satisfy it: every import must be a Node
 * built-in, a file inside the bundle, or a package of the production dependency tree (package-lock.json entries not
 * marked dev). `npm ci --omit=dev` on a device installs exactly that tree, so anything else (TensorFlow.js,
 * onnx-proto, the training charts) would fail there at import time. Used by scripts/bundle.ts and its test.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

export interface ImportViolation {
  file: string;
  specifier: string;
  why: string;
}

/** The package name of a bare specifier: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Names of the packages `npm ci --omit=dev` installs, from a lockfile (v2/v3 `packages` map). */
export function productionPackages(lockJson: string): Set<string> {
  const lock = JSON.parse(lockJson) as { packages?: Record<string, { dev?: boolean; devOptional?: boolean; name?: string }> };
  if (!lock.packages) throw new Error('package-lock.json has no "packages" map (lockfileVersion >= 2 needed)');
  const names = new Set<string>();
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || entry.dev || entry.devOptional) continue;
    const i = key.lastIndexOf('node_modules/');
    if (i >= 0) names.add(key.slice(i + 'node_modules/'.length));
  }
  return names;
}

const builtins = new Set(builtinModules);

/** Every import, export-from, dynamic import() and require() specifier of one JavaScript source (comments ignored). */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** Checks one file's specifiers. `exists` answers whether a path inside the bundle exists. */
export function checkImports(file: string, specifiers: string[], prodPackages: Set<string>, exists: (absPath: string) => boolean): ImportViolation[] {
  const out: ImportViolation[] = [];
  for (const s of specifiers) {
    if (s.startsWith('node:') || builtins.has(s)) continue;
    if (s.startsWith('.') || s.startsWith('/')) {
      const target = path.resolve(path.dirname(file), s);
      if (!exists(target)) out.push({ file, specifier: s, why: 'no such file in the bundle' });
      continue;
    }
    if (s.startsWith('data:')) continue;
    const name = packageName(s);
    if (!prodPackages.has(name)) out.push({ file, specifier: s, why: `${name} is not a production dependency (npm ci --omit=dev does not install it)` });
  }
  return out;
}

/** Checks every .js/.mjs/.cjs file under `root`/dist against the production tree of `root`/package-lock.json. */
export function checkBundleImports(root: string, files: string[]): ImportViolation[] {
  const prod = productionPackages(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const violations: ImportViolation[] = [];
  for (const rel of files.filter((f) => /\.(m|c)?js$/.test(f))) {
    const abs = path.join(root, rel);
    violations.push(...checkImports(abs, importSpecifiers(readFileSync(abs, 'utf8')), prod, existsSync).map((v) => ({ ...v, file: rel })));
  }
  return violations;
}
