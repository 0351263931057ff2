/** The public face of src/capture/: what other folders use of it. Import from here, never from the folder's other files. */
export { createFrameSource } from './create-source.js';
export { findFirstBinary } from './find-binary.js';
export { parseVideoBackends } from './gstreamer.js';
export { observedSource } from './observed-source.js';
export { ResilientFrameSource } from './resilient-source.js';
export { parseSourceSpec } from './source-spec.js';
export type { PathKind, SourceSpec } from './source-spec.js';
export { SourceError } from './types.js';
export type { CameraStats, Frame, FrameSource } from './types.js';
