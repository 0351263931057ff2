/**
 * Training-mode batch normalisation over the channel axis of a [M, C] view (M = N*H*W), fast on wasm.
 *
 * Autodiff of `x.mean(0)` / `sub` / `square` makes wasm transpose the whole activation for every axis-0 reduction
 * (its Sum/Mean reduce the last axis only) and records ~15 broadcast kernels per layer: batch norm took as long as
 * the convolutions. Here every reduction over M is one matrix product with a ones row ([1,M] x [M,C]), and the
 * gradient is the closed form (Ioffe & Szegedy 2015, with xhat the normalised input):
 *   dbeta = sum(dy), dgamma = sum(dy * xhat),
 *   dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M)
 * Statistics are the biased batch moments, as PyTorch and tf.layers use for normalising in training.
 */
import * as tf from '@tensorflow/tfjs';

export interface BatchNormResult {
  y: tf.Tensor2D;
  /** Batch mean and biased variance [C] (for the moving averages); not part of the gradient. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Reduces [M, C] to [1, C] by a product with a ones row. */
function sumRows(t: tf.Tensor2D, ones: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(ones, t);
}

export function batchNormTrain(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): BatchNormResult {
  const m = x.shape[0];
  const c = x.shape[1];
  let mean: tf.Tensor1D | null = null;
  let variance: tf.Tensor1D | null = null;
  const f = tf.customGrad(((xIn: tf.Tensor, gIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const xs = xIn as tf.Tensor2D;
    const ones = tf.ones([1, m]) as tf.Tensor2D;
    const mu = sumRows(xs, ones).div(m) as tf.Tensor2D;
    const xc = xs.sub(mu) as tf.Tensor2D;
    const v = sumRows(xc.square(), ones).div(m) as tf.Tensor2D;
    const invstd = tf.rsqrt(v.add(epsilon)) as tf.Tensor2D;
    const xhat = xc.mul(invstd) as tf.Tensor2D;
    mean = tf.keep(mu.reshape([c]) as tf.Tensor1D);
    variance = tf.keep(v.reshape([c]) as tf.Tensor1D);
    save([xhat, invstd, gIn, ones]);
    return {
      value: xhat.mul(gIn).add(bIn),
      gradFunc: (dyIn: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dy = dyIn as tf.Tensor2D;
        const [sxhat, sinv, sg, sones] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor, tf.Tensor2D];
        const dbeta = sumRows(dy, sones);
        const dgamma = sumRows(dy.mul(sxhat), sones);
        const dx = dy.sub(dbeta.div(m)).sub(sxhat.mul(dgamma.div(m))).mul(sinv.mul(sg));
        return [dx, dgamma.reshape([c]), dbeta.reshape([c])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = f(x, gamma, beta) as tf.Tensor2D;
  return { y, mean: mean!, variance: variance! };
}
