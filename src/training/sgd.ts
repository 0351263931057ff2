/**
 * SGD with (Nesterov) momentum and L2 weight decay, as torch.optim.SGD(momentum, nesterov=True, weight_decay):
 *   g' = g + wd * p            (decayed parameters only: kernels)
 *   buf = momentum * buf + g'  (buf starts at g' on the first step, as PyTorch)
 *   step = nesterov ? g' + momentum * buf : buf
 *   p = p - lr * scale * step
 * Its state (the momentum buffers, named `mom/<var>`) is exposed by name for resumable checkpoints, like AdamW's.
 */
import * as tf from '@tensorflow/tfjs';

export interface SgdOptions {
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

export class Sgd {
  step = 0;
  readonly buf = new Map<string, tf.Variable>();

  constructor(
    private readonly vars: Map<string, tf.Variable>,
    /** Names that get weight decay. */
    private readonly decayed: Set<string>,
    /** Per-variable learning-rate multipliers (default 1). */
    private readonly lrScale: Map<string, number> = new Map(),
    readonly opts: SgdOptions = { momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  ) {
    for (const [name, variable] of vars) this.buf.set(name, tf.variable(tf.zerosLike(variable), false));
  }

  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    const first = this.step === 0;
    this.step++;
    const { momentum, nesterov, weightDecay } = this.opts;
    tf.tidy(() => {
      for (const [name, g0] of grads) {
        const p = this.vars.get(name)!;
        const b = this.buf.get(name)!;
        const g = weightDecay > 0 && this.decayed.has(name) ? g0.add(p.mul(weightDecay)) : g0;
        let upd: tf.Tensor = g;
        if (momentum > 0) {
          const b2 = first ? g : b.mul(momentum).add(g);
          b.assign(b2);
          upd = nesterov ? g.add(b2.mul(momentum)) : b2;
        }
        p.assign(p.sub(upd.mul(lr * (this.lrScale.get(name) ?? 1))));
      }
    });
  }

  namedState(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const [n, t] of this.buf) out[`mom/${n}`] = t;
    return out;
  }

  loadState(state: tf.NamedTensorMap, step: number): void {
    for (const [n, t] of this.buf) {
      const s = state[`mom/${n}`];
      if (s) t.assign(s);
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of this.buf.values()) t.dispose();
  }
}
