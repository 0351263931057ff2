/** The public face of src/events/: what other folders use of it. Import from here, never from the folder's other files. */
export { createConsoleSink } from './console-sink.js';
export type { EventSink, FaceEvent, FaceEventType, FrameReport, ModelRef, TrackedFaceView } from './types.js';
