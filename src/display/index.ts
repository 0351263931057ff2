/** The public face of src/display/: what other folders use of it. Import from here, never from the folder's other files. */
export { KioskWindow } from './kiosk-window.js';
export { WindowDisplay } from './window-display.js';
