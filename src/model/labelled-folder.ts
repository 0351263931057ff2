/** Lists a folder of labelled face images laid out as `<class>/<image>` (FER2013's image layout). */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { EMOTIONS, isEmotion, type Emotion } from './labels.js';

export interface LabelledImage {
  file: string;
  label: Emotion;
}

const IMAGE_EXT = /\.(jpe?g|png|bmp|pgm|webp|tiff?)$/i;
/** FER2013's own files. */
export const JPEG_EXT = /\.jpe?g$/i;

export interface ClassFolders {
  /** Per class present (FER2013 label order), its image files sorted by name. */
  classes: Array<{ label: Emotion; dir: string; files: string[] }>;
  /** Classes without a folder. */
  missing: Emotion[];
  /** Folders that are not emotion classes. */
  unknown: string[];
  /** Images left out because their name does not start with `prefix`. */
  otherPrefix: number;
}

/**
 * The one lister of a `<class>/<image>` folder (FER2013's image layout), for the runtime's evaluate, the training
 * loader and the quantizer's calibration set. Class folders match case-insensitively; `prefix` keeps only files whose
 * name starts with it (PublicTest_ where test/ holds PublicTest_ and PrivateTest_ images). Throws when `dataDir` is
 * not a readable folder; what is missing or unknown is reported, the caller decides whether that is an error.
 */
export function listClassFolders(dataDir: string, opts: { prefix?: string; extensions?: RegExp } = {}): ClassFolders {
  let entries: string[];
  try {
    entries = readdirSync(dataDir);
  } catch (err) {
    throw new Error(`cannot read data folder ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const dirs = entries.filter((e) => statSync(path.join(dataDir, e), { throwIfNoEntry: false })?.isDirectory());
  const byLower = new Map(dirs.map((d) => [d.toLowerCase(), d]));
  const ext = opts.extensions ?? IMAGE_EXT;
  const out: ClassFolders = { classes: [], missing: [], unknown: dirs.filter((d) => !isEmotion(d.toLowerCase())), otherPrefix: 0 };
  for (const label of EMOTIONS) {
    const name = byLower.get(label);
    if (!name) {
      out.missing.push(label);
      continue;
    }
    const dir = path.join(dataDir, name);
    const images = readdirSync(dir).filter((f) => ext.test(f)).sort();
    const files = opts.prefix ? images.filter((f) => f.startsWith(opts.prefix!)) : images;
    out.otherPrefix += images.length - files.length;
    out.classes.push({ label, dir, files: files.map((f) => path.join(dir, f)) });
  }
  return out;
}

/**
 * Every image under data/<class>/, classes being FER2013's names; a folder that is not a class, or no class folder
 * at all, is an error. `prefix` as in listClassFolders.
 */
export function listLabelledImages(dataDir: string, prefix?: string): LabelledImage[] {
  const found = listClassFolders(dataDir, prefix ? { prefix } : {});
  if (found.unknown.length > 0) {
    throw new Error(`${dataDir}: folders [${found.unknown.join(', ')}] are not emotion classes; expected <class>/<image> with classes ${EMOTIONS.join(', ')}`);
  }
  if (found.classes.length === 0) throw new Error(`${dataDir} holds no class folders; expected <class>/<image> with classes ${EMOTIONS.join(', ')}`);
  return found.classes.flatMap((c) => c.files.map((file) => ({ file, label: c.label })));
}
