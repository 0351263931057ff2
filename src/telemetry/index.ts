/** The public face of src/telemetry/: what other folders use of it. Import from here, never from the folder's other files. */
export { availabilityPayload } from './payloads.js';
export { TelemetryProducer } from './producer.js';
export type { DeliveryStatus, TelemetryHub, TelemetryMessage, TelemetryTransport } from './producer.js';
