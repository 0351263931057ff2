/** The public face of src/pipeline/: what other folders use of it. Import from here, never from the folder's other files. */
export { FaceTracker } from './face-tracker.js';
export type { TrackerConfig } from './face-tracker.js';
export { KioskPipeline } from './kiosk-pipeline.js';
export type { ClassifierPort, DisplayPort, FaceDetectorPort, RunSummary } from './kiosk-pipeline.js';
