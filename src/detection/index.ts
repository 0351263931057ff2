/** The public face of src/detection/: what other folders use of it. Import from here, never from the folder's other files. */
export { iou } from './geometry.js';
export type { Box } from './geometry.js';
export { HaarFaceDetector, loadGrayImage } from './haar-detector.js';
