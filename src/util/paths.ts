/** Where the installed app's own files are (models/, haarcascades/, package.json), wherever it was installed. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: dist/util/paths.js and src/util/paths.ts both sit two levels below it. */
export const appRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const defaultCascadePath = path.join(appRoot, 'haarcascades', 'haarcascade_frontalface_default.xml');
export const defaultModelPath = path.join(appRoot, 'models', 'deep_emotion.int8.onnx');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as { version: string }).version;
}
