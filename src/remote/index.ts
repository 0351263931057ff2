/** The public face of src/remote/: what other folders use of it. Import from here, never from the folder's other files. */
export { PausableDetector, startRemoteService, switchableModels, withRemoteOptions } from './kiosk-host.js';
export { FrameHealthSink } from './service.js';
export { snapshotJpeg } from './snapshot.js';
