/**
 * The logits of every test-time view of a set of faces, computed once, so view sets (ablations) and temperatures
 * can be compared without running the network again: each window (zoom, shift) is run with its mirror image.
 * The input tensors come from the runtime's own preprocessing (cropsToTensorData).
 */
import { cropsToTensorData, expandViews, type CropView, type TestTimeViews } from '../model/index.js';
import type { GraphRunner } from './ort-runner.js';
import type { ViewLogits } from './temperature.js';

export function viewKey(v: CropView): string {
  return `${v.zoom}|${v.dx}|${v.dy}|${v.mirror ? 'm' : '-'}`;
}

export class ViewLogitCache {
  private readonly cache = new Map<string, Float32Array>();

  constructor(
    private readonly runner: GraphRunner,
    private readonly faces: readonly Uint8Array[],
    private readonly size: number,
    private readonly normalization: { mean: number; std: number },
    private readonly output: string,
    readonly classes: number,
    private readonly batch = 64,
  ) {}

  get n(): number {
    return this.faces.length;
  }

  /** [n, classes] logits of one view (computed with its mirror twin on first use). */
  async view(v: CropView): Promise<Float32Array> {
    const hit = this.cache.get(viewKey(v));
    if (hit) return hit;
    const { faces, size, classes } = this;
    const plain = new Float32Array(faces.length * classes);
    const mirror = new Float32Array(faces.length * classes);
    const views: TestTimeViews = { zooms: [v.zoom], mirror: true, shifts: [[v.dx, v.dy]] };
    for (let i = 0; i < faces.length; i += this.batch) {
      const chunk = faces.slice(i, i + this.batch);
      const data = cropsToTensorData(chunk, { height: size, width: size }, this.normalization, views);
      const out = (await this.runner.run(data, 2 * chunk.length, size, [this.output])).get(this.output)!.data;
      plain.set(out.subarray(0, chunk.length * classes), i * classes);
      mirror.set(out.subarray(chunk.length * classes, 2 * chunk.length * classes), i * classes);
    }
    this.cache.set(viewKey({ ...v, mirror: false }), plain);
    this.cache.set(viewKey({ ...v, mirror: true }), mirror);
    return this.cache.get(viewKey(v))!;
  }

  /** The logits of a view set in the runtime's batch order (one block of n rows per view). */
  async of(views: TestTimeViews): Promise<ViewLogits> {
    const all = expandViews(views);
    const logits = new Float32Array(all.length * this.n * this.classes);
    for (const [b, v] of all.entries()) logits.set(await this.view(v), b * this.n * this.classes);
    return { logits, n: this.n, views: all.length, classes: this.classes };
  }
}
