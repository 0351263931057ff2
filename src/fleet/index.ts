/** The public face of src/fleet/: what other folders use of it. Import from here, never from the folder's other files. */
export { modelUpdateRequest } from './model-update.js';
export { FleetClient } from './operator.js';
export type { RequestOutcome } from './operator.js';
export { runRollout } from './rollout.js';
export { keygenFiles, parsePublicKey, signFiles, signaturePathFor, verifyFiles, verifyModel } from './signing.js';
export { watchRemote } from './watch.js';
export type { RemoteWatch } from './watch.js';
