/**
 * The spatial transformer's sampling step in TensorFlow.js, with PyTorch's semantics
 * (F.affine_grid + F.grid_sample, align_corners=False, mode bilinear, padding_mode zeros), which are also ONNX's
 * AffineGrid(align_corners=0) + GridSample(mode=linear|bilinear, padding_mode=zeros, align_corners=0).
 *
 * tfjs has neither op, and automatic differentiation through tf.gather fails (integer indices), so the bilinear
 * sampler is a tf.customGrad whose gradient with respect to the sampling coordinates is written analytically. The
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

/** [N * P] int32 offsets n * H * W of each sample's image in the flattened batch, cached per shape. */
const offsetCache = new Map<string, tf.Tensor2D>();
function batchOffsets(n: number, hw: number, p: number): tf.Tensor2D {
  const key = `${n}:${hw}:${p}`;
  let t = offsetCache.get(key);
  if (!t) {
    const a = new Int32Array(n * p);
    for (let i = 0; i < n; i++) a.fill(i * hw, i * p, (i + 1) * p);
    t = tf.keep(tf.tensor2d(a, [n, p], 'int32'));
    if (offsetCache.size > 16) {
      for (const v of offsetCache.values()) v.dispose();
      offsetCache.clear();
    }
    offsetCache.set(key, t);
  }
  return t;
}

/**
 * Bilinear sampling with zeros padding at normalised coordinates gx, gy [N, P] (align_corners=False):
 * image [N,H,W,C] -> [N, P, C]. Differentiable with respect to gx and gy (not image: see the module comment).
 */
export function gridSampleXY(image: tf.Tensor4D, gx: tf.Tensor2D, gy: tf.Tensor2D): tf.Tensor3D {
  const [n, h, w, c] = image.shape;
  const p = gx.shape[1];
  const flat = tf.tidy(() => image.reshape([n * h * w, c]));
  const batchOffset = batchOffsets(n, h * w, p);
  const sampler = tf.customGrad(((ixIn: tf.Tensor, iyIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const ix = ixIn as tf.Tensor2D; // [N, P] pixel coordinates
    const iy = iyIn as tf.Tensor2D;
    const x0f = tf.floor(ix);
    const y0f = tf.floor(iy);
    const tx = tf.sub(ix, x0f).expandDims(2); // [N, P, 1]
    const ty = tf.sub(iy, y0f).expandDims(2);
    const corner = (xf: tf.Tensor, yf: tf.Tensor): tf.Tensor => {
      const valid = tf
        .logicalAnd(tf.logicalAnd(tf.greaterEqual(xf, 0), tf.lessEqual(xf, w - 1)), tf.logicalAnd(tf.greaterEqual(yf, 0), tf.lessEqual(yf, h - 1)))
        .cast('float32')
        .expandDims(2);
      const xi = tf.clipByValue(xf, 0, w - 1).cast('int32');
      const yi = tf.clipByValue(yf, 0, h - 1).cast('int32');
      const idx = tf.add(tf.add(tf.mul(yi, tf.scalar(w, 'int32')), xi), batchOffset).reshape([-1]);
      return tf.gather(flat, idx).reshape([n, p, c]).mul(valid);
    };
    const x1f = tf.add(x0f, 1);
    const y1f = tf.add(y0f, 1);
    const v00 = corner(x0f, y0f);
    const v01 = corner(x1f, y0f);
    const v10 = corner(x0f, y1f);
    const v11 = corner(x1f, y1f);
    const one = tf.scalar(1);
    const top = tf.add(tf.mul(tf.sub(one, tx), v00), tf.mul(tx, v01));
    const bottom = tf.add(tf.mul(tf.sub(one, tx), v10), tf.mul(tx, v11));
    const value = tf.add(tf.mul(tf.sub(one, ty), top), tf.mul(ty, bottom));
    save([tx, ty, v00, v01, v10, v11]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor; // [N, P, C]
        const [stx, sty, s00, s01, s10, s11] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const o = tf.scalar(1);
        const dOutDx = tf.add(tf.mul(tf.sub(o, sty), tf.sub(s01, s00)), tf.mul(sty, tf.sub(s11, s10)));
        const dOutDy = tf.add(tf.mul(tf.sub(o, stx), tf.sub(s10, s00)), tf.mul(stx, tf.sub(s11, s01)));
        return [tf.sum(tf.mul(g, dOutDx), 2), tf.sum(tf.mul(g, dOutDy), 2)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const out = tf.tidy(() => {
    // align_corners=False: pixel = ((u + 1) * size - 1) / 2
    const ix = gx.add(1).mul(w / 2).sub(0.5);
    const iy = gy.add(1).mul(h / 2).sub(0.5);
    return sampler(ix, iy) as tf.Tensor3D;
  });
  flat.dispose();
  return out;
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
