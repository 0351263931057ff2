/** The public face of src/contract/: what other folders use of it. Import from here, never from the folder's other files. */
export { PAYLOAD_VERSION, parseContractBytes, parseContractMessage } from './contract.js';
export type { AvailabilityPayload, ContractMessage, CountsPayload, EventPayload, IncomingStatsPayload, StateFace, StatePayload, StatsPayload } from './contract.js';
export { MAX_REQUEST_BYTES, REMOTE_COMMANDS, REMOTE_PAYLOAD_VERSION, commandOfTopic, parseRemoteBytes, remoteDiscoveryTopics, remoteTopics, remoteWatchFilters, requestParams, responseSchema, transactionSchema } from './remote.js';
export type { DetectionState, HealthData, ModelStatePayload, ModelUpdateParams, RemoteCommand, RemoteMessage, RemoteResponse, RemoteTopics } from './remote.js';
export { deviceTopics, parseTopic, subscriptionFilters } from './topics.js';
export type { DeviceTopics, TopicKind } from './topics.js';
