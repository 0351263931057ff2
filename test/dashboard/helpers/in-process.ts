/** Runs `run --dashboard`'s in-process dashboard with synthetic frames and events; SIGUSR2 stops it. */
import { createInProcessDashboard, routeLogLine } from '../../../src/dashboard/index.js';
import { createLogger } from '../../../src/util/logger.js';
import { faceEvent, frame, kioskConfig } from '../../mqtt/helpers/fixtures.js';

const logger = createLogger('info', 'kiosk', routeLogLine);
const sink = createInProcessDashboard(kioskConfig({ deviceId: 'inproc' }, '/tmp'), { logger });
await sink.start!();
let n = 0;
const cam = setInterval(() => sink.onFrame!(frame(n++, [{ id: 4, emotion: 'surprise' }], Date.now())), 100);
for (let i = 0; i < 5; i++) await sink.onEvent(faceEvent(i, 'appeared', 'surprise'));
// an error text from the network (say, an RTSP server's reason) with terminal escapes: shown inert, never executed
logger.warn('stream said \u001b]0;PWNED\u0007\u001b[2J\u001b[31mEVILRED\u009b2J done');
logger.warn('camera hiccup: this log line must land in the events panel');
process.on('SIGUSR2', () => {
  clearInterval(cam);
  void sink.stop!().then(() => {
    logger.info('after the dashboard: back on stderr');
    process.stdout.write('terminal restored\n');
    process.exit(0);
  });
});
