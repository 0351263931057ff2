/** Lists a folder of labelled face images laid out as `<class>/<image>` (FER2013's image layout). */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { EMOTIONS, isEmotion, type Emotion } from './labels.js';

export interface LabelledImage {
  file: string;
  label: Emotion;
}

const IMAGE_EXT = /\.(jpe?g|png|bmp|pgm|webp|tiff?)$/i;

/**
 * Every image under data/<class>/, classes being FER2013's names. `prefix` keeps only files whose name starts with
 * it (e.g. PublicTest_ where test/ holds both PublicTest_ and PrivateTest_ images).
 */
export function listLabelledImages(dataDir: string, prefix?: string): LabelledImage[] {
  let entries: string[];
  try {
    entries = readdirSync(dataDir);
  } catch (err) {
    throw new Error(`cannot read data folder ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const classDirs = entries.filter((e) => statSync(path.join(dataDir, e)).isDirectory());
  const unknown = classDirs.filter((d) => !isEmotion(d));
  if (unknown.length > 0) {
    throw new Error(`${dataDir}: folders [${unknown.join(', ')}] are not emotion classes; expected <class>/<image> with classes ${EMOTIONS.join(', ')}`);
  }
  if (classDirs.length === 0) throw new Error(`${dataDir} holds no class folders; expected <class>/<image> with classes ${EMOTIONS.join(', ')}`);
  const out: LabelledImage[] = [];
  for (const label of EMOTIONS) {
    if (!classDirs.includes(label)) continue;
    const dir = path.join(dataDir, label);
    for (const f of readdirSync(dir).sort()) {
      if (!IMAGE_EXT.test(f) || (prefix && !f.startsWith(prefix))) continue;
      out.push({ file: path.join(dir, f), label });
    }
  }
  return out;
}
