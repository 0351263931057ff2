/** The public face of src/app/: what other folders use of it. Import from here, never from the folder's other files. */
export { StartupError, runKioskApp } from './kiosk-app.js';
export { formatSummary, writeSummaryJson } from './run-summary.js';
export type { KioskRunSummary } from './run-summary.js';
