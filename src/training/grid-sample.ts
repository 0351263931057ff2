/**
 * The spatial transformer's sampling step in TensorFlow.js, with PyTorch's semantics
 * (F.affine_grid + F.grid_sample, align_corners=False, mode bilinear, padding_mode zeros), which are also ONNX's
 * AffineGrid(align_corners=0) + GridSample(mode=linear|bilinear, padding_mode=zeros, align_corners=0).
 *
 * tfjs has neither op, and automatic differentiation through tf.gather fails (integer indices), so the bilinear
 * sampler is a tf.customGrad (its samples computed in plain JS) whose gradient with respect to the sampling
 * coordinates is written analytically. The
 * coordinates come from theta through ordinary differentiable ops, so d loss / d theta flows back to the
 * localisation network. The sampled image is the network input, which needs no gradient: the sampler returns a zero
 * gradient for it (documented in CHECKPOINT.md; do not put the sampler after trainable layers without adding one).
 *
 * Layout: images NHWC, theta [N, 2, 3] row-major ([[a, b, c], [d, e, f]]), mapping output normalised coordinates
 * (x, y, 1) to input normalised coordinates: x_in = a x + b y + c, y_in = d x + e y + f, where
 * x = (2 j + 1) / W - 1 and y = (2 i + 1) / H - 1 for output pixel (row i, column j) (align_corners=False), and a
 * normalised coordinate u maps to the pixel coordinate ((u + 1) W - 1) / 2. Samples outside the image read 0.
 */
import * as tf from '@tensorflow/tfjs';

/** The output-pixel grid in normalised coordinates, [H*W, 3] rows (x, y, 1), row-major over (i, j). */
export function baseGrid(h: number, w: number): tf.Tensor2D {
  const data = new Float32Array(h * w * 3);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const k = (i * w + j) * 3;
      data[k] = (2 * j + 1) / w - 1;
      data[k + 1] = (2 * i + 1) / h - 1;
      data[k + 2] = 1;
    }
  }
  return tf.tensor2d(data, [h * w, 3]);
}

/** [3, H*W]: the transposed base grid (rows x, y, 1), cached per size (a constant, never disposed). */
const baseGridT = new Map<string, tf.Tensor2D>();
function baseGridTransposed(h: number, w: number): tf.Tensor2D {
  const key = `${h}x${w}`;
  let t = baseGridT.get(key);
  if (!t) {
    t = tf.tidy(() => baseGrid(h, w).transpose() as tf.Tensor2D);
    tf.keep(t);
    baseGridT.set(key, t);
  }
  return t;
}

/**
 * The sampling coordinates in normalised units, as two [N, H*W] tensors (x and y): x_in = theta[:,0,:] . (x, y, 1),
 * y_in = theta[:,1,:] . (x, y, 1). One small matMul each (no tiling of the base grid).
 */
export function affineGridXY(theta: tf.Tensor3D, h: number, w: number): { gx: tf.Tensor2D; gy: tf.Tensor2D } {
  return tf.tidy(() => {
    const n = theta.shape[0];
    const base = baseGridTransposed(h, w);
    const rows = theta.reshape([n, 6]);
    const gx = tf.matMul(rows.slice([0, 0], [n, 3]), base) as tf.Tensor2D;
    const gy = tf.matMul(rows.slice([0, 3], [n, 3]), base) as tf.Tensor2D;
    return { gx, gy };
  });
}

/** affine_grid: theta [N,2,3] -> sampling grid [N, H, W, 2] (last axis: x, y in normalised coordinates). */
export function affineGrid(theta: tf.Tensor3D, h: number, w: number): tf.Tensor4D {
  return tf.tidy(() => {
    const n = theta.shape[0];
    const { gx, gy } = affineGridXY(theta, h, w);
    return tf.stack([gx, gy], 2).reshape([n, h, w, 2]) as tf.Tensor4D;
  });
}

/**
 * Bilinear samples and their partial derivatives with respect to the pixel coordinates, in plain JS over the
 * backend's arrays: a few multiply-adds per sample, where the same computation as tfjs ops took ~40 kernels and a
 * GatherV2 per corner (a quarter of a training step on wasm). Zeros padding: corners outside the image read 0.
 */
function bilinear(img: Float32Array, n: number, h: number, w: number, c: number, ix: Float32Array, iy: Float32Array, p: number) {
  const value = new Float32Array(n * p * c);
  const dOdx = new Float32Array(n * p * c);
  const dOdy = new Float32Array(n * p * c);
  for (let b = 0; b < n; b++) {
    const base = b * h * w * c;
    for (let k = 0; k < p; k++) {
      const s = b * p + k;
      const x = ix[s]!;
      const y = iy[s]!;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const tx = x - x0;
      const ty = y - y0;
      const x0in = x0 >= 0 && x0 <= w - 1;
      const x1in = x0 + 1 >= 0 && x0 + 1 <= w - 1;
      const y0in = y0 >= 0 && y0 <= h - 1;
      const y1in = y0 + 1 >= 0 && y0 + 1 <= h - 1;
      const r0 = base + y0 * w * c;
      const r1 = r0 + w * c;
      for (let ch = 0; ch < c; ch++) {
        const v00 = y0in && x0in ? img[r0 + x0 * c + ch]! : 0;
        const v01 = y0in && x1in ? img[r0 + (x0 + 1) * c + ch]! : 0;
        const v10 = y1in && x0in ? img[r1 + x0 * c + ch]! : 0;
        const v11 = y1in && x1in ? img[r1 + (x0 + 1) * c + ch]! : 0;
        const top = (1 - tx) * v00 + tx * v01;
        const bottom = (1 - tx) * v10 + tx * v11;
        const o = s * c + ch;
        value[o] = (1 - ty) * top + ty * bottom;
        dOdx[o] = (1 - ty) * (v01 - v00) + ty * (v11 - v10);
        dOdy[o] = bottom - top;
      }
    }
  }
  return { value, dOdx, dOdy };
}

/**
 * Bilinear sampling with zeros padding at normalised coordinates gx, gy [N, P] (align_corners=False):
 * image [N,H,W,C] -> [N, P, C]. Differentiable with respect to gx and gy (not image: see the module comment).
 */
export function gridSampleXY(image: tf.Tensor4D, gx: tf.Tensor2D, gy: tf.Tensor2D): tf.Tensor3D {
  const [n, h, w, c] = image.shape;
  const p = gx.shape[1];
  const img = image.dataSync() as Float32Array;
  const sampler = tf.customGrad(((ixIn: tf.Tensor, iyIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const r = bilinear(img, n, h, w, c, ixIn.dataSync() as Float32Array, iyIn.dataSync() as Float32Array, p);
    const dOdx = tf.tensor3d(r.dOdx, [n, p, c]);
    const dOdy = tf.tensor3d(r.dOdy, [n, p, c]);
    save([dOdx, dOdy]);
    return {
      value: tf.tensor3d(r.value, [n, p, c]),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor; // [N, P, C]
        const [sdx, sdy] = saved as [tf.Tensor, tf.Tensor];
        return c === 1 ? [tf.mul(g, sdx).reshape([n, p]), tf.mul(g, sdy).reshape([n, p])] : [tf.sum(tf.mul(g, sdx), 2), tf.sum(tf.mul(g, sdy), 2)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.tidy(() => {
    // align_corners=False: pixel = ((u + 1) * size - 1) / 2
    const ix = gx.add(1).mul(w / 2).sub(0.5);
    const iy = gy.add(1).mul(h / 2).sub(0.5);
    return sampler(ix, iy) as tf.Tensor3D;
  });
}

/**
 * grid_sample: bilinear, zeros padding, align_corners=False. image [N,H,W,C], grid [N,Ho,Wo,2] -> [N,Ho,Wo,C].
 * Differentiable with respect to grid (not image: see the module comment).
 */
export function gridSample(image: tf.Tensor4D, grid: tf.Tensor4D): tf.Tensor4D {
  const [n, , , c] = image.shape;
  const [, ho, wo] = grid.shape;
  return tf.tidy(() => {
    const g = grid.reshape([n, ho * wo, 2]);
    const gx = g.slice([0, 0, 0], [n, ho * wo, 1]).reshape([n, ho * wo]) as tf.Tensor2D;
    const gy = g.slice([0, 0, 1], [n, ho * wo, 1]).reshape([n, ho * wo]) as tf.Tensor2D;
    return gridSampleXY(image, gx, gy).reshape([n, ho, wo, c]) as tf.Tensor4D;
  });
}

/** The spatial transformer's warp: sample `image` at affine_grid(theta) with the image's own size. */
export function spatialTransform(image: tf.Tensor4D, theta: tf.Tensor3D): tf.Tensor4D {
  const [n, h, w, c] = image.shape;
  return tf.tidy(() => {
    const { gx, gy } = affineGridXY(theta, h, w);
    return gridSampleXY(image, gx, gy).reshape([n, h, w, c]) as tf.Tensor4D;
  });
}
