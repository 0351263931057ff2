/**
 * The labelled faces of a split file (models/splits/fer2013-val.txt: paths relative to the data folder, the label
 * is the parent folder's name), for the validation-only choices of issue 13 (views, temperature). Images are
 * decoded as the training side does (readGreyFace); unreadable ones are errors naming the file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isEmotion, type Emotion } from '../model/index.js';
import { readGreyFace } from '../onnx/index.js';
import { parseSplitFile } from './split.js';

export interface LabelledFaces {
  files: string[];
  labels: Emotion[];
  faces: Uint8Array[];
}

export function readSplitFaces(listFile: string, dataRoot: string, size = 48): LabelledFaces {
  let text: string;
  try {
    text = readFileSync(listFile, 'utf8');
  } catch (err) {
    throw new Error(`split file ${listFile} cannot be read: ${(err as Error).message}`);
  }
  const rels = parseSplitFile(text);
  if (rels.length === 0) throw new Error(`split file ${listFile} lists no images`);
  const out: LabelledFaces = { files: [], labels: [], faces: [] };
  for (const rel of rels) {
    const label = path.basename(path.dirname(rel));
    if (!isEmotion(label)) throw new Error(`${listFile}: ${rel} is not in a <class>/ folder (classes are the seven emotions)`);
    const file = path.resolve(dataRoot, rel);
    out.files.push(file);
    out.labels.push(label);
    out.faces.push(readGreyFace(file, size));
  }
  return out;
}
