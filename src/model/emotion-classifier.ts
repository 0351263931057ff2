/**
 * The emotion classifier: a model manifest + an onnxruntime-node session. All faces of a frame go through the
 * session in one batch; results are probabilities over the seven classes. This is the only module that imports
 * onnxruntime-node.
 */
import { existsSync, statSync } from 'node:fs';
import type * as Ort from 'onnxruntime-node';
import type { EmotionScores } from './labels.js';
import { scoresFromVector } from './labels.js';
import { loadManifest, type ModelManifest } from './manifest.js';
import { cropsToTensorData, faceProbabilities, inputGeometry, viewCount, type InputGeometry, type TestTimeViews } from './preprocess.js';

export class ModelError extends Error {}

/**
 * Fewer (or other) test-time views than the manifest declares, e.g. on a Pi 4 where four views per face cost too
 * much: `zooms` replaces the manifest's cropZooms, `flip` its testTimeFlip (each one falls back to the manifest's).
 * The report's views ablation gives each choice's validation accuracy. The manifest's temperature still applies.
 */
export interface ViewChoice {
  zooms?: readonly number[];
  flip?: boolean;
}

export interface ClassifierOptions {
  intraOpThreads?: number;
  views?: ViewChoice;
}

/** The views the classifier runs: the manifest's, with a ViewChoice's fields in place of its own. */
export function chooseViews(manifest: Pick<ModelManifest, 'cropZooms' | 'testTimeFlip'>, choice: ViewChoice = {}): TestTimeViews {
  const zooms = choice.zooms ?? manifest.cropZooms;
  if (zooms.length < 1 || zooms.length > 4 || zooms.some((z) => !(z >= 1 && z <= 2))) {
    throw new ModelError(`test-time view zooms must be one to four numbers from 1 to 2, got [${zooms.join(', ')}]`);
  }
  return { zooms: [...zooms], mirror: choice.flip ?? manifest.testTimeFlip };
}

let ortModule: typeof Ort | undefined;
/** onnxruntime-node, loaded when the first model is (importing this module loads nothing native). */
async function onnxRuntime(): Promise<typeof Ort> {
  return (ortModule ??= await import('onnxruntime-node'));
}

export class EmotionClassifier {
  readonly geometry: InputGeometry;

  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    readonly manifest: ModelManifest,
    readonly modelPath: string,
    /** The test-time views each face gets (the manifest's unless ClassifierOptions.views chose others). */
    readonly views: TestTimeViews,
  ) {
    this.geometry = inputGeometry(manifest);
  }

  static async load(modelPath: string, { intraOpThreads = 1, views: choice }: ClassifierOptions = {}): Promise<EmotionClassifier> {
    if (!existsSync(modelPath)) throw new ModelError(`model file ${modelPath} not found (model.path in the config, or --model)`);
    if (statSync(modelPath).size === 0) throw new ModelError(`model file ${modelPath} is empty`);
    const manifest = await loadManifest(modelPath);
    const views = chooseViews(manifest, choice);
    const ort = await onnxRuntime();
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, {
        intraOpNumThreads: intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new ModelError(`model file ${modelPath} could not be loaded by onnxruntime (corrupt or not ONNX?): ${(err as Error).message.split('\n')[0]}`);
    }
    const classifier = new EmotionClassifier(ort, session, manifest, modelPath, views);
    await classifier.checkAgainstManifest();
    return classifier;
  }

  get inputSize(): number {
    return this.geometry.height;
  }

  /** Verifies that the model's declared input/output agree with its manifest, then runs one dummy face. */
  private async checkAgainstManifest(): Promise<void> {
    const { manifest, session, modelPath } = this;
    const where = `model ${modelPath} and its manifest`;
    if (!session.inputNames.includes(manifest.input.name)) {
      throw new ModelError(`${where} disagree: the manifest's input "${manifest.input.name}" is not among the model's inputs [${session.inputNames.join(', ')}]`);
    }
    if (!session.outputNames.includes(manifest.output.name)) {
      throw new ModelError(`${where} disagree: the manifest's output "${manifest.output.name}" is not among the model's outputs [${session.outputNames.join(', ')}]`);
    }
    const meta = session.inputMetadata.find((m) => m.name === manifest.input.name);
    if (meta?.isTensor && meta.shape.length > 0) {
      const declared = manifest.input.shape;
      const actual = meta.shape;
      const mismatch =
        actual.length !== declared.length ||
        actual.some((dim, i) => i > 0 && typeof dim === 'number' && dim > 0 && dim !== declared[i]);
      if (mismatch) {
        throw new ModelError(`${where} disagree on the input shape: model [${actual.join(', ')}], manifest [${declared.join(', ')}]`);
      }
    }
    const probe = new Uint8Array(this.geometry.height * this.geometry.width).fill(128);
    let out: EmotionScores[];
    try {
      out = await this.classify([probe]);
    } catch (err) {
      throw new ModelError(`${where} disagree: a ${this.geometry.height}x${this.geometry.width} test face failed: ${(err as Error).message.split('\n')[0]}`);
    }
    if (out.length !== 1) throw new ModelError(`${where} disagree: one face in, ${out.length} results out`);
  }

  /** Probabilities for each crop (grey, geometry-sized), in one session run. */
  async classify(crops: readonly Uint8Array[]): Promise<EmotionScores[]> {
    return (await this.classifyRaw(crops)).map((row) => scoresFromVector(this.manifest.labels, row));
  }

  /** As classify(), as rows of probabilities in manifest label order. */
  async classifyRaw(crops: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (crops.length === 0) return [];
    const { manifest, geometry, views } = this;
    const data = cropsToTensorData(crops, geometry, manifest.normalization, views);
    const batch = crops.length * viewCount(views);
    const input = new this.ort.Tensor('float32', data, [batch, 1, geometry.height, geometry.width]);
    const result = await this.session.run({ [manifest.input.name]: input });
    const output = result[manifest.output.name];
    if (!output || !('data' in output)) throw new ModelError(`model output ${manifest.output.name} missing`);
    const classes = manifest.labels.length;
    const raw = output.data as Float32Array;
    if (raw.length !== batch * classes) {
      throw new ModelError(`model output has ${raw.length} values for ${batch} faces; expected ${classes} per face (manifest labels)`);
    }
    const probs = faceProbabilities(raw, manifest.output.kind, crops.length, viewCount(views), classes, manifest.temperature ?? 1);
    const rows: Float32Array[] = [];
    for (let i = 0; i < crops.length; i++) rows.push(probs.slice(i * classes, (i + 1) * classes));
    return rows;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
