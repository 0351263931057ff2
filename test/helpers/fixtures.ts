/** Paths to the real data tests use: Debian's OpenCV samples and the FER2013 copy beside the checkout. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** FER2013 (image layout), read-only: $FER2013_DIR or ../shared/fer2013 next to the checkout. */
export const fer2013Dir = process.env.FER2013_DIR ?? path.resolve(repoRoot, '..', 'shared', 'fer2013');
export const opencvSamples = '/usr/share/doc/opencv-doc/examples/data';
/** A real face clip no one here made: 720x528, 270 frames. */
export const megamindVideo = path.join(opencvSamples, 'Megamind.avi');
export const cliPath = path.join(repoRoot, 'dist', 'cli', 'main.js');
