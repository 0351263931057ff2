/** The public face of src/onnx/: what other folders use of it. Import from here, never from the folder's other files. */
export { readCheckpoint, readWeightFiles, resolveCheckpoint } from './checkpoint.js';
export type { CheckpointContents } from './checkpoint.js';
export { readGreyFace } from './fer-images.js';
export { reliabilityTable } from './temperature.js';
