/**
 * Runs ONNX graphs in onnxruntime-node for the training-host steps (calibration, agreement checks, benchmarks):
 * unlike the runtime's EmotionClassifier it can fetch any tensor, including intermediate ones added as extra graph
 * outputs, and it needs no manifest. The only module under src/onnx that imports onnxruntime-node.
 */
import * as ort from 'onnxruntime-node';

export class OrtRunError extends Error {}

export interface RunnerOptions {
  intraOpThreads?: number;
  /** 'all' (the runtime's setting) or 'disabled' (to read every intermediate tensor as the graph computes it). */
  optimization?: 'all' | 'disabled';
}

export class GraphRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly outputNames: readonly string[],
    readonly source: string,
  ) {}

  /** Opens a model from a file path or from .onnx bytes; `source` names it in errors. */
  static async open(model: string | Uint8Array, { intraOpThreads = 1, optimization = 'all' }: RunnerOptions = {}, source = typeof model === 'string' ? model : 'in-memory model'): Promise<GraphRunner> {
    const opts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: optimization,
    };
    let session: ort.InferenceSession;
    try {
      session = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
    } catch (err) {
      throw new OrtRunError(`onnxruntime could not load ${source} (corrupt, truncated or not an ONNX model?): ${(err as Error).message.split('\n')[0]}`);
    }
    const inputName = session.inputNames[0];
    if (!inputName || session.inputNames.length !== 1) {
      await session.release();
      throw new OrtRunError(`${source} must have exactly one input, it has [${session.inputNames.join(', ')}]`);
    }
    return new GraphRunner(session, inputName, session.outputNames, source);
  }

  /** Runs a [n, 1, size, size] float batch; returns the requested outputs (all outputs by default). */
  async run(data: Float32Array, n: number, size: number, outputs: readonly string[] = this.outputNames): Promise<Map<string, { data: Float32Array; dims: readonly number[] }>> {
    if (data.length !== n * size * size) throw new RangeError(`batch of ${n} images of ${size}x${size} needs ${n * size * size} values, got ${data.length}`);
    const feeds = { [this.inputName]: new ort.Tensor('float32', data, [n, 1, size, size]) };
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.session.run(feeds, [...outputs]);
    } catch (err) {
      throw new OrtRunError(`running ${this.source} failed: ${(err as Error).message.split('\n')[0]}`);
    }
    const out = new Map<string, { data: Float32Array; dims: readonly number[] }>();
    for (const name of outputs) {
      const t = result[name];
      if (!t || t.type !== 'float32') throw new OrtRunError(`${this.source}: output ${name} missing or not float32`);
      out.set(name, { data: t.data as Float32Array, dims: t.dims });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
