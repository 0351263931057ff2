/** The public face of src/vision/: what other folders use of it. Import from here, never from the folder's other files. */
export { cv } from './opencv.js';
export type { CascadeClassifier, Mat, VideoCapture } from './opencv.js';
