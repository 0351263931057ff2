/**
 * Builds the kiosk configuration: schema defaults < config file (YAML or JSON) < environment (EMOTION_KIOSK_*) <
 * command-line flags. Every rejected value is reported as "path: reason (from <where it came from>)".
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigVersionError, migrateConfig } from './migrate.js';
import { configSchema, type KioskConfig } from './schema.js';

export const ENV_PREFIX = 'EMOTION_KIOSK_';
/** Names a config file; not a config key. */
export const CONFIG_FILE_ENV = 'EMOTION_KIOSK_CONFIG';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Tree = { [k: string]: Json };

interface JsonSchemaNode {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  anyOf?: JsonSchemaNode[];
}

const jsonSchema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;

/** The JSON-schema node at a dotted path, or undefined when the path is not a config key. */
function schemaAt(pathParts: string[]): JsonSchemaNode | undefined {
  let node: JsonSchemaNode | undefined = jsonSchema;
  for (const part of pathParts) {
    node = node?.properties?.[part] ?? node?.anyOf?.find((n) => n.properties?.[part])?.properties?.[part];
    if (!node) return undefined;
  }
  return node;
}

function leafType(node: JsonSchemaNode): string {
  const t = node.type ?? node.anyOf?.map((n) => n.type).find((x) => x !== undefined && x !== 'null');
  return Array.isArray(t) ? (t.find((x) => x !== 'null') ?? 'string') : (t ?? 'string');
}

/** Converts a string from the environment or a flag to the type the schema expects at that path. */
export function coerceValue(pathParts: string[], raw: string): Json {
  const node = schemaAt(pathParts);
  const type = node ? leafType(node) : 'string';
  if (type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    return raw; // let the schema reject it with its own message
  }
  if (type === 'number' || type === 'integer') {
    const n = Number(raw);
    return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
  }
  return raw;
}

/** EMOTION_KIOSK_MQTT__TOPIC_PREFIX -> ['mqtt', 'topicPrefix'] */
export function envKeyToPath(key: string): string[] {
  return key
    .slice(ENV_PREFIX.length)
    .split('__')
    .map((seg) => seg.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()));
}

function setPath(tree: Tree, pathParts: string[], value: Json): void {
  let node: Tree = tree;
  for (const part of pathParts.slice(0, -1)) {
    const next = node[part];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
    node = node[part] as Tree;
  }
  node[pathParts[pathParts.length - 1]!] = value;
}

function deepMerge(base: Tree, over: Tree, origin: string, origins: Map<string, string>, prefix = ''): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const p = prefix ? `${prefix}.${k}` : k;
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const base = b && typeof b === 'object' && !Array.isArray(b) ? (b as Tree) : {};
      out[k] = deepMerge(base, v as Tree, origin, origins, p);
    } else {
      out[k] = v;
      origins.set(p, origin);
    }
  }
  return out;
}

function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? err})`]);
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`${file}: the top level must be a mapping of keys`]);
  return parsed as Tree;
}

/** The file's keys upgraded to the current config version (src/config/migrate.ts); notes say what changed. */
function readAndMigrate(file: string): { tree: Tree; notes: string[] } {
  try {
    const m = migrateConfig(readConfigFile(file));
    return { tree: m.tree, notes: m.notes.map((n) => `${file}: ${n}`) };
  } catch (err) {
    if (err instanceof ConfigVersionError) throw new ConfigError([`${err.message} (from ${file})`]);
    throw err;
  }
}

export interface ConfigInputs {
  /** Config file path (YAML or JSON); default: $EMOTION_KIOSK_CONFIG, else none. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Flag values by dotted config path, already typed (e.g. {'display.enabled': false}). */
  flags?: Record<string, Json | undefined>;
}

export interface LoadedConfig {
  config: KioskConfig;
  /** Environment variables with the prefix that name no config key (probably typos). */
  unknownEnv: string[];
  file: string | undefined;
  /** What migrating an older config file changed (for the log); empty when the file was current. */
  notes: string[];
}

export function loadConfig({ file, env = process.env, flags = {} }: ConfigInputs = {}): LoadedConfig {
  const origins = new Map<string, string>();
  const configFile = file ?? env[CONFIG_FILE_ENV];
  const fromFile = configFile ? readAndMigrate(configFile) : { tree: {}, notes: [] };
  let tree: Tree = deepMerge({}, fromFile.tree, configFile ?? 'file', origins);

  const fromEnv: Tree = {};
  const unknownEnv: string[] = [];
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || key === CONFIG_FILE_ENV || raw === undefined) continue;
    const p = envKeyToPath(key);
    if (!schemaAt(p)) {
      unknownEnv.push(key);
      continue;
    }
    setPath(fromEnv, p, coerceValue(p, raw));
  }
  tree = deepMerge(tree, fromEnv, 'environment', origins);
  for (const [p, origin] of origins) if (origin === 'environment') origins.set(p, `${ENV_PREFIX}${p.split('.').map((s) => s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()).join('__')}`);

  const fromFlags: Tree = {};
  for (const [p, v] of Object.entries(flags)) if (v !== undefined) setPath(fromFlags, p.split('.'), v);
  tree = deepMerge(tree, fromFlags, 'command line', origins);

  const parsed = configSchema.safeParse(tree);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const p = issue.path.join('.');
        const origin = origins.get(p) ?? [...origins.entries()].find(([k]) => p.startsWith(k + '.'))?.[1];
        return `${p || '(root)'}: ${issue.message}${origin ? ` (from ${origin})` : ''}`;
      }),
    );
  }
  return { config: parsed.data, unknownEnv, file: configFile, notes: fromFile.notes };
}
