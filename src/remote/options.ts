/**
 * The `options` command's rules, pure: reading dotted keys of the effective config, validating a set of changes with
 * the config schema itself (an error names the key), and the keys that must never change over the network.
 */
import { configSchema, type KioskConfig } from '../config/index.js';

/**
 * Never set remotely: broker, credentials and TLS files (a wrong one cuts the device off for good), where state is
 * written, the remote settings themselves (the operator's safety switches), and anything that names a file or runs
 * something on the device (the model goes through signed model/update; a source can be a GStreamer pipeline).
 */
export const REFUSED_KEYS = ['mqtt', 'dataDir', 'remote', 'version', 'model.path', 'source', 'detection.cascade'] as const;

export function refusedReason(key: string): string | null {
  for (const r of REFUSED_KEYS) {
    if (key === r || key.startsWith(r + '.')) {
      return r === 'model.path'
        ? `${key} cannot be changed remotely: send a signed model with model/update`
        : `${key} cannot be changed remotely (${r} is set only in the device's config file)`;
    }
  }
  return null;
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The value at a dotted key, or undefined when the key is not in the config. */
export function getKey(config: unknown, key: string): { found: true; value: unknown } | { found: false } {
  let cur: unknown = config;
  for (const part of key.split('.')) {
    if (!isTree(cur) || !Object.hasOwn(cur, part)) return { found: false };
    cur = cur[part];
  }
  return { found: true, value: cur };
}

function setKey(tree: Tree, key: string, value: unknown): string | null {
  const parts = key.split('.');
  let cur: Tree = tree;
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1) {
      cur[part] = value;
      return null;
    }
    const next = cur[part];
    if (next === undefined) return `${key}: unknown key (${parts.slice(0, i + 1).join('.')} is not a section of the config)`;
    if (!isTree(next)) return `${key}: unknown key (${parts.slice(0, i + 1).join('.')} is a value, not a section)`;
    cur = next;
  }
  return null;
}

export type ValidateResult = { ok: true; config: KioskConfig; changed: string[] } | { ok: false; error: string };

/**
 * Applies `changes` (dotted key -> value) to the effective config and re-validates the whole config with the schema.
 * Refused and unknown keys and invalid values are errors that name the key; nothing is applied unless all pass.
 */
export function validateChanges(current: KioskConfig, changes: Record<string, unknown>): ValidateResult {
  const errors: string[] = [];
  const tree = structuredClone(current) as unknown as Tree;
  for (const [key, value] of Object.entries(changes)) {
    const refused = refusedReason(key);
    if (refused) {
      errors.push(refused);
      continue;
    }
    // every key that may change has a default, so it is in the effective config (optional ones are all refused)
    if (!getKey(current, key).found) {
      errors.push(`${key}: unknown key`);
      continue;
    }
    const problem = setKey(tree, key, value);
    if (problem) errors.push(problem);
  }
  if (errors.length > 0) return { ok: false, error: errors.join('; ') };
  const parsed = configSchema.safeParse(tree);
  if (!parsed.success) {
    return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ') };
  }
  return { ok: true, config: parsed.data, changed: Object.keys(changes) };
}
