/**
 * 2x2 max pooling, stride 2, 'valid' (floor on odd sizes), with a faster gradient than wasm's stock MaxPoolGrad:
 * the gradient goes to every input equal to its window's maximum, computed with nearest-neighbour upsampling
 * and one comparison. For exact ties within a window (e.g. all zeros after a ReLU) each tied input receives the
 * gradient, where tf.maxPool picks one; after a ReLU those inputs have zero ReLU gradient, so the result is the same.
 */
import * as tf from '@tensorflow/tfjs';

export function maxPool2(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const ho = Math.floor(h / 2);
  const wo = Math.floor(w / 2);
  const f = tf.customGrad(((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const xi = xIn as tf.Tensor4D;
    const y = tf.maxPool(xi, 2, 2, 'valid');
    save([xi, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sy] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        const up = (t: tf.Tensor4D) => tf.image.resizeNearestNeighbor(t, [2 * ho, 2 * wo], false, false);
        const xc = h === 2 * ho && w === 2 * wo ? sx : sx.slice([0, 0, 0, 0], [n, 2 * ho, 2 * wo, c]);
        let dx: tf.Tensor4D = tf.mul(tf.equal(xc, up(sy)).cast('float32'), up(g));
        if (h !== 2 * ho || w !== 2 * wo) dx = tf.pad(dx, [[0, 0], [0, h - 2 * ho], [0, w - 2 * wo], [0, 0]]);
        return [dx];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor4D;
}
