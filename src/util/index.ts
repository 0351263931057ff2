/** The public face of src/util/: what other folders use of it. Import from here, never from the folder's other files. */
export { backoffDelayMs } from './backoff.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export { defaultCascadePath, defaultModelPath, packageVersion } from './paths.js';
export { maskConfig, redactSecrets, redactUrl, splitCredentials } from './redact.js';
export { Rng, mixSeed, seededRandom } from './rng.js';
export { sha256Hex } from './sha256.js';
export { RateMeter, round } from './stats.js';
