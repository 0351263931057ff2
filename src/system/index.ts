/** The public face of src/system/: what other folders use of it. Import from here, never from the folder's other files. */
export { defaultDeviceId, deriveDeviceIdentity, localDeviceIdentity, readIdentityFacts, sanitizeDeviceId } from './identity.js';
export type { DeviceIdentity, IdentityFacts } from './identity.js';
export { createWatchdogSink } from './watchdog.js';
