#!/usr/bin/env node
/**
 * Writes or updates the device's config file without ever overwriting an operator's edits.
 *
 * Layers, highest priority first: the existing file (operator's values) > the seed (values handed over at
 * provisioning time, e.g. the MQTT settings flash.sh put on the boot partition) > the template with `--set`
 * values (this release's device defaults). A fresh install gets template+seed; a re-provision only gains the
 * keys that are missing, and comments and formatting of the operator's file are kept (yaml's Document API).
 *
 * Plain JavaScript on purpose: setup.sh runs it with the installed release's node_modules (the `yaml` package)
 * before anything is compiled, and it must run on the device with nothing but Node.
 *
 * CLI: node config-merge.mjs --target FILE --template FILE [--seed FILE] [--set key.path=value]...
 *        [--set-string key.path=value]... [--check]
 * --set types its value like YAML (`15` a number, `true` a boolean); --set-string keeps it as the exact string
 * (a camera source such as `0`, `rtsp://cam/a #b` or a GStreamer pipeline, a URL, a path).
 * Prints `added <path>` / `kept <path> ...` lines, then `RESULT changed <n>` or `RESULT unchanged`.
 * Exit 0 on success, 2 on bad input (nothing written).
 */
import { existsSync, readFileSync, realpathSync, renameSync, writeFileSync, copyFileSync, statSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, parseDocument } from 'yaml';

export class ConfigMergeError extends Error {}

function parse(text, what) {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigMergeError(`${what} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new ConfigMergeError(`${what}: the top level must be a mapping of keys`);
  }
  return doc;
}

/** Parses a --set value the way YAML would (`15` is a number, `true` a boolean, `rpicam` a string). */
export function parseSetValue(raw) {
  const doc = parseDocument(raw);
  if (doc.errors.length > 0 || (doc.contents !== null && !isScalar(doc.contents))) return raw;
  return doc.toJS() ?? raw;
}

/** "a.b=c" -> { path: ['a','b'], value }; with { string: true } the value is the text after `=` exactly. */
export function parseSet(arg, { string = false } = {}) {
  const flag = string ? '--set-string' : '--set';
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new ConfigMergeError(`${flag} expects key.path=value, got "${arg}"`);
  const key = arg.slice(0, eq).trim();
  if (!/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(key)) throw new ConfigMergeError(`${flag}: "${key}" is not a key path like mqtt.broker`);
  const raw = arg.slice(eq + 1);
  return { path: key.split('.'), value: string ? raw : parseSetValue(raw) };
}

/** The same setting written two ways (`source: 0` by hand, "0" from setup.sh) is not a conflict. */
function sameValue(a, b) {
  if (JSON.stringify(a) === JSON.stringify(b)) return true;
  const scalar = (v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  return scalar(a) && scalar(b) && String(a) === String(b);
}

/**
 * A value safe to print (setup.sh's output lands in logs): a URL's userinfo, everything between scheme:// and the last
 * `@`, is masked, since a password may hold `@`, `:`, `#` or spaces.
 */
export function printable(value) {
  const m = typeof value === 'string' ? /^([a-z][a-z0-9+.-]*:\/\/)(.*)@([^@]*)$/is.exec(value) : null;
  return JSON.stringify(m ? `${m[1]}***@${m[3]}` : value);
}

/** Every leaf path (arrays count as leaves) of a plain object. */
function leafPaths(obj, prefix = []) {
  const out = [];
  for (const [k, v] of Object.entries(obj ?? {})) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) out.push(...leafPaths(v, [...prefix, k]));
    else out.push([...prefix, k]);
  }
  return out;
}

function getIn(doc, p) {
  return doc.getIn(p, true);
}

/**
 * Adds to `doc` every leaf of `source` that `doc` lacks. A path blocked by an operator's scalar (e.g. the
 * operator wrote `camera: null`) is kept as the operator wrote it and reported.
 */
function addMissing(doc, source, added, kept) {
  for (const p of leafPaths(source)) {
    let blocked = false;
    for (let i = 1; i < p.length; i++) {
      const node = getIn(doc, p.slice(0, i));
      if (node === undefined) break;
      if (!isMap(node)) {
        blocked = true;
        kept.push(`${p.slice(0, i).join('.')} (not a mapping in your file, so ${p.join('.')} was not added)`);
        break;
      }
    }
    if (blocked || doc.hasIn(p)) continue;
    let value = source;
    for (const k of p) value = value[k];
    doc.setIn(p, value);
    added.push(p.join('.'));
  }
}

/**
 * The pure core. existingText: the file on disk or null; templateText: this release's defaults; seedText: optional;
 * sets: [{path, value}] applied to the template. Returns { text, changed, added, kept }.
 */
export function mergeConfig({ existingText, templateText, seedText = null, sets = [] }) {
  const template = parse(templateText, 'the config template');
  for (const { path: p, value } of sets) template.setIn(p, value);
  const seed = seedText === null ? null : parse(seedText, 'the seed config');
  const added = [];
  const kept = [];

  if (existingText === null) {
    // Fresh install: the template (its comments included), with the seed's values on top.
    if (seed) for (const p of leafPaths(seed.toJS())) {
      let value = seed.toJS();
      for (const k of p) value = value[k];
      template.setIn(p, value);
    }
    return { text: template.toString({ lineWidth: 0 }), changed: true, added: leafPaths(template.toJS()).map((p) => p.join('.')), kept };
  }

  const doc = parse(existingText, 'the existing config file');
  if (doc.contents === null) doc.contents = doc.createNode({});
  // `version` is the format of the operator's file: never added to an existing file (one without it is version 1,
  // and the kiosk's loader upgrades its keys when it reads it: src/config/migrate.ts).
  const withoutVersion = (tree) => Object.fromEntries(Object.entries(tree ?? {}).filter(([k]) => k !== 'version'));
  if (seed) addMissing(doc, withoutVersion(seed.toJS()), added, kept);
  addMissing(doc, withoutVersion(template.toJS()), added, kept);
  for (const { path: p, value } of sets) {
    const current = doc.getIn(p);
    if (current !== undefined && !sameValue(current, value) && !added.includes(p.join('.'))) {
      kept.push(`${p.join('.')} = ${printable(current)} (your value; ${printable(value)} was not applied: edit the file to change it)`);
    }
  }
  if (added.length === 0) return { text: existingText, changed: false, added, kept };
  return { text: doc.toString({ lineWidth: 0 }), changed: true, added, kept };
}

function usage() {
  return 'usage: config-merge.mjs --target FILE --template FILE [--seed FILE] [--set key.path=value]... [--set-string key.path=value]... [--check]';
}

export function main(argv) {
  const args = { sets: [], check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigMergeError(`${a} needs a value; ${usage()}`);
      return v;
    };
    if (a === '--target') args.target = next();
    else if (a === '--template') args.template = next();
    else if (a === '--seed') args.seed = next();
    else if (a === '--set') args.sets.push(parseSet(next()));
    else if (a === '--set-string') args.sets.push(parseSet(next(), { string: true }));
    else if (a === '--check') args.check = true;
    else throw new ConfigMergeError(`unknown argument ${a}; ${usage()}`);
  }
  if (!args.target || !args.template) throw new ConfigMergeError(usage());
  const read = (f, what) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (err) {
      throw new ConfigMergeError(`cannot read ${what} ${f}: ${err.code ?? err.message}`);
    }
  };
  const existingText = existsSync(args.target) ? read(args.target, 'the config file') : null;
  const result = mergeConfig({
    existingText,
    templateText: read(args.template, 'the config template'),
    seedText: args.seed ? read(args.seed, 'the seed config') : null,
    sets: args.sets,
  });
  for (const p of existingText === null ? [] : result.added) process.stdout.write(`added ${p}\n`);
  for (const k of result.kept) process.stdout.write(`kept ${k}\n`);
  if (result.changed && !args.check) {
    if (existingText !== null) {
      // The operator's file is never lost: keep the version we are about to extend.
      copyFileSync(args.target, `${args.target}.bak`);
    }
    const tmp = path.join(path.dirname(args.target), `.${path.basename(args.target)}.tmp-${process.pid}`);
    writeFileSync(tmp, result.text, { mode: 0o640 });
    if (existingText !== null) chmodSync(tmp, statSync(args.target).mode & 0o777);
    renameSync(tmp, args.target);
  }
  process.stdout.write(result.changed ? `RESULT changed ${existingText === null ? 'new' : result.added.length}\n` : 'RESULT unchanged\n');
}

// Run as a program (also through a symlinked path such as /opt/emotion-kiosk/current/...), not when imported.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`config-merge: ${err instanceof ConfigMergeError ? err.message : err.stack}\n`);
    process.exit(2);
  }
}
