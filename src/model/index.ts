/** The public face of src/model/: what other folders use of it. Import from here, never from the folder's other files. */
export { EmotionClassifier } from './emotion-classifier.js';
export { JPEG_EXT, listClassFolders, listLabelledImages } from './labelled-folder.js';
export { EMOTIONS, isEmotion, topEmotion } from './labels.js';
export type { Emotion, EmotionScores } from './labels.js';
export { loadManifest, manifestPathFor, manifestSchema } from './manifest.js';
export type { ModelManifest, ModelManifestInput } from './manifest.js';
export { argmax, confusionMatrix, reportFromConfusion } from './metrics.js';
export type { ClassificationReport } from './metrics.js';
export { SINGLE_VIEW, cropsToTensorData, expandViews, faceProbabilities, tenCrop, viewCount, viewsOf } from './preprocess.js';
export type { CropView, TestTimeViews } from './preprocess.js';
export { judgeReference, parseReferenceSet, runReferenceCheck } from './reference-faces.js';
export type { ReferenceCrops, ReferenceFigures } from './reference-faces.js';
