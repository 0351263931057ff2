/** Where the development scripts find FER2013 (image layout, read-only): $FER2013_DIR, else ../shared/fer2013 beside the checkout. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const fer2013Dir = process.env.FER2013_DIR ?? path.resolve(repoRoot, '..', 'shared', 'fer2013');
