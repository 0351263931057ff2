/** The public face of src/evaluation/: what other folders use of it. Import from here, never from the folder's other files. */
export { clipReport, toClipEvent } from './clip-metrics.js';
export type { ClipEvent, ClipReport, RecordedFrame } from './clip-metrics.js';
export { parseClipTruth } from './clip-plan.js';
export type { ClipTruth } from './clip-plan.js';
