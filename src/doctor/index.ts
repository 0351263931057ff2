/** The public face of src/doctor/: what other folders use of it. Import from here, never from the folder's other files. */
export { formatReport } from './result.js';
export { runDoctor } from './run-doctor.js';
