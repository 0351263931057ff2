/** Finds camera programs (rpicam-vid, libcamera-vid, raspistill) on PATH. */
import which from 'which';

/** The first of `names` found on PATH as [name, absolute path], or undefined. */
export async function findFirstBinary(names: readonly string[], path = process.env.PATH ?? ''): Promise<[string, string] | undefined> {
  for (const name of names) {
    const found = await which(name, { nothrow: true, path });
    if (found) return [name, found];
  }
  return undefined;
}
