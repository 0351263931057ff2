/** The public face of src/config/: what other folders use of it. Import from here, never from the folder's other files. */
export { CONFIG_FILE_ENV, ConfigError, loadConfig } from './load.js';
export type { ConfigInputs } from './load.js';
export { configSchema } from './schema.js';
export type { KioskConfig } from './schema.js';
