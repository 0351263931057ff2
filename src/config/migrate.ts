/**
 * Config file versions. A file carries `version: N`; a file without one is version 1 (the layout before versions).
 * Each migration turns version N into N+1 in memory, before the strict schema sees the file, so a device upgraded
 * to a release that renamed or removed a key keeps starting with the operator's file as it is. Pure.
 */
export const CONFIG_VERSION = 2;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type ConfigTree = { [k: string]: Json };

export class ConfigVersionError extends Error {}

interface Migration {
  /** Upgrades a tree of version `from` to `from + 1` (mutates it); returns one note per change made. */
  apply(tree: ConfigTree): string[];
}

const isTree = (v: Json | undefined): v is ConfigTree => v !== null && typeof v === 'object' && !Array.isArray(v);

/** MIGRATIONS[i] upgrades version i + 1 to i + 2. */
const MIGRATIONS: Migration[] = [
  {
    // 1 -> 2: privacy.shareFaceImages is gone: nothing ever read it (no face image leaves the device in any release).
    apply(tree) {
      const privacy = tree['privacy'];
      if (!isTree(privacy) || !('shareFaceImages' in privacy)) return [];
      const was = privacy['shareFaceImages'];
      delete privacy['shareFaceImages'];
      if (Object.keys(privacy).length === 0) delete tree['privacy'];
      return [`privacy.shareFaceImages (${JSON.stringify(was)}) removed: it never had an effect; no face image leaves the device`];
    },
  },
];

export interface Migrated {
  tree: ConfigTree;
  /** The version the file had (1 when it had none). */
  from: number;
  /** What was changed, for the log; empty when the file was current. */
  notes: string[];
}

/** Upgrades a parsed config file to CONFIG_VERSION. Throws ConfigVersionError for a version this release can't read. */
export function migrateConfig(input: ConfigTree): Migrated {
  const raw = input['version'];
  const from = raw === undefined ? 1 : raw;
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 1) {
    throw new ConfigVersionError(`version: expected a whole number >= 1 (the config file format version), got ${JSON.stringify(raw)}`);
  }
  if (from > CONFIG_VERSION) {
    throw new ConfigVersionError(
      `version: the config file is version ${from}, newer than this emotion-kiosk reads (${CONFIG_VERSION}): upgrade emotion-kiosk, or restore the file setup.sh kept beside it (config.yaml.bak-*)`,
    );
  }
  const tree = structuredClone(input);
  const notes: string[] = [];
  for (let v = from; v < CONFIG_VERSION; v++) notes.push(...MIGRATIONS[v - 1]!.apply(tree).map((n) => `config version ${v} -> ${v + 1}: ${n}`));
  tree['version'] = CONFIG_VERSION;
  return { tree, from, notes };
}
