/** The sha256 of some bytes as lower-case hex: how models, manifests and reference faces are named in manifests and signatures. */
import { createHash } from 'node:crypto';

export const sha256Hex = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
