/**
 * AdamW (Adam with decoupled weight decay, Loshchilov & Hutter) over named variables, with its state exposed by
 * name so a checkpoint can save and restore it exactly (tf.train.adam has no decoupled decay and no learning-rate
 * schedule hook).
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

export class AdamW {
  step = 0;
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly vars: Map<string, tf.Variable>,
    /** Names that get weight decay. */
    private readonly decayed: Set<string>,
    /** Per-variable learning-rate multipliers (default 1). */
    private readonly lrScale: Map<string, number> = new Map(),
    readonly opts: AdamWOptions = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 },
  ) {
    for (const [name, variable] of vars) {
      this.m.set(name, tf.variable(tf.zerosLike(variable), false));
      this.v.set(name, tf.variable(tf.zerosLike(variable), false));
    }
  }

  /** One update with learning rate lr; grads by variable name. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step++;
    const { beta1, beta2, epsilon, weightDecay } = this.opts;
    const bc1 = 1 - Math.pow(beta1, this.step);
    const bc2 = 1 - Math.pow(beta2, this.step);
    tf.tidy(() => {
      for (const [name, g] of grads) {
        const p = this.vars.get(name)!;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m2 = m.mul(beta1).add(g.mul(1 - beta1));
        const v2 = v.mul(beta2).add(g.square().mul(1 - beta2));
        m.assign(m2);
        v.assign(v2);
        const plr = lr * (this.lrScale.get(name) ?? 1);
        let upd = m2.div(bc1).div(v2.div(bc2).sqrt().add(epsilon)).mul(plr);
        if (weightDecay > 0 && this.decayed.has(name)) upd = upd.add(p.mul(plr * weightDecay));
        p.assign(p.sub(upd));
      }
    });
  }

  /** State tensors named `m/<var>` and `v/<var>`. */
  namedState(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const [n, t] of this.m) out[`m/${n}`] = t;
    for (const [n, t] of this.v) out[`v/${n}`] = t;
    return out;
  }

  loadState(state: tf.NamedTensorMap, step: number): void {
    for (const [n, t] of this.m) {
      const s = state[`m/${n}`];
      if (s) t.assign(s);
    }
    for (const [n, t] of this.v) {
      const s = state[`v/${n}`];
      if (s) t.assign(s);
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
