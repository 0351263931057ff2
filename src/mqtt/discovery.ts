/**
 * Home Assistant MQTT discovery: retained config messages so that a kiosk's sensors (faces per emotion, faces in
 * view, face present, frame rate, CPU, temperature, memory, outbox) and its face events appear in Home Assistant by
 * themselves. Topic: <discoveryPrefix>/<component>/<node_id>/<object_id>/config. Pure.
 */
import { EMOTIONS } from '../model/index.js';
import type { DeviceTopics } from '../contract/index.js';

export interface DiscoveryMessage {
  topic: string;
  /** JSON config (retained). */
  payload: string;
}

export interface DiscoveryInput {
  discoveryPrefix: string;
  deviceId: string;
  topics: DeviceTopics;
  swVersion: string;
  modelName: string;
  /** Where the command bus publishes snapshots, when the config allows them (remote.snapshot.enabled): an image entity. */
  snapshotTopic?: string;
  /**
   * With remote control on (remote.enabled): an `update` entity for the model, installed = the retained model state
   * (<prefix>/<device>/model), latest = what the operator last rolled out (<prefix>/latest_model, retained).
   */
  modelTopic?: string;
  latestModelTopic?: string;
}

type Component = 'sensor' | 'binary_sensor' | 'event' | 'image' | 'update';

interface Entity {
  component: Component;
  objectId: string;
  name: string;
  config: Record<string, unknown>;
}

export function discoveryMessages(i: DiscoveryInput): DiscoveryMessage[] {
  const nodeId = `emotion_kiosk_${i.deviceId}`;
  const device = {
    identifiers: [nodeId],
    name: `Emotion kiosk ${i.deviceId}`,
    model: `emotion-kiosk (${i.modelName})`,
    manufacturer: 'emotion-kiosk',
    sw_version: i.swVersion,
  };
  const origin = { name: 'emotion-kiosk', sw_version: i.swVersion };
  const availability = [{ topic: i.topics.availability, value_template: '{{ value_json.state }}' }];

  const entities: Entity[] = [
    ...EMOTIONS.map<Entity>((e) => ({
      component: 'sensor',
      objectId: `faces_${e}`,
      name: `Faces ${e}`,
      config: {
        state_topic: i.topics.state,
        value_template: `{{ value_json.emotions.${e} }}`,
        state_class: 'measurement',
        unit_of_measurement: 'faces',
        icon: 'mdi:emoticon-outline',
      },
    })),
    {
      component: 'sensor',
      objectId: 'faces',
      name: 'Faces in view',
      config: { state_topic: i.topics.state, value_template: '{{ value_json.faces }}', state_class: 'measurement', unit_of_measurement: 'faces', icon: 'mdi:account-group' },
    },
    {
      component: 'binary_sensor',
      objectId: 'face_present',
      name: 'Face present',
      config: {
        state_topic: i.topics.state,
        value_template: "{{ 'ON' if value_json.faces > 0 else 'OFF' }}",
        device_class: 'occupancy',
      },
    },
    {
      component: 'event',
      objectId: 'face_event',
      name: 'Face event',
      config: {
        state_topic: i.topics.events,
        event_types: ['appeared', 'emotion_changed', 'left'],
        value_template:
          '{"event_type": "{{ value_json.type }}", "emotion": "{{ value_json.emotion }}", "face_id": {{ value_json.faceId }}, "confidence": {{ value_json.confidence }}}',
        icon: 'mdi:emoticon',
      },
    },
    statsSensor(i, 'fps', 'Frame rate', '{{ value_json.fps }}', { unit_of_measurement: 'fps', icon: 'mdi:speedometer' }),
    statsSensor(i, 'cpu_load', 'CPU load', '{{ value_json.cpu.loadPct }}', { unit_of_measurement: '%', icon: 'mdi:cpu-64-bit' }),
    statsSensor(i, 'temperature', 'CPU temperature', '{{ value_json.cpu.temperatureC }}', { unit_of_measurement: '°C', device_class: 'temperature' }),
    statsSensor(i, 'memory', 'Memory used', '{{ value_json.memory.usedPct }}', { unit_of_measurement: '%', icon: 'mdi:memory' }),
    statsSensor(i, 'outbox', 'Events waiting', '{{ value_json.outbox.pending }}', { unit_of_measurement: 'events', icon: 'mdi:tray-full' }),
    // only when the operator allowed snapshots: the JPEG the `snapshot` command publishes (faces blurred unless configured otherwise)
    ...(i.snapshotTopic ? [{ component: 'image' as const, objectId: 'snapshot', name: 'Snapshot', config: { image_topic: i.snapshotTopic, content_type: 'image/jpeg' } }] : []),
    // installed vs latest model; no command_topic: the rollout is the operator's (emotion-kiosk fleet rollout), not a button in Home Assistant
    ...(i.modelTopic && i.latestModelTopic
      ? [
          {
            component: 'update' as const,
            objectId: 'model',
            name: 'Emotion model',
            config: {
              state_topic: i.modelTopic,
              value_template: '{{ value_json.model.version }}',
              latest_version_topic: i.latestModelTopic,
              latest_version_template: '{{ value_json.model.version }}',
              title: `${i.modelName} (emotion model)`,
              entity_category: 'diagnostic',
            },
          },
        ]
      : []),
  ];

  return entities.map((en) => ({
    topic: `${i.discoveryPrefix}/${en.component}/${nodeId}/${en.objectId}/config`,
    payload: JSON.stringify({
      name: en.name,
      unique_id: `${nodeId}_${en.objectId}`,
      ...en.config,
      availability,
      availability_mode: 'latest',
      device,
      origin,
    }),
  }));
}

function statsSensor(i: DiscoveryInput, objectId: string, name: string, tpl: string, extra: Record<string, unknown>): Entity {
  return {
    component: 'sensor',
    objectId,
    name,
    config: {
      state_topic: i.topics.stats,
      // a null value (no such sensor on this device) renders as `None`, which Home Assistant shows as unknown
      value_template: tpl,
      state_class: 'measurement',
      entity_category: 'diagnostic',
      ...extra,
    },
  };
}

/** Least time between two discovery bursts asked for by Home Assistant (`<discoveryPrefix>/status` = online). */
export const DISCOVERY_MIN_INTERVAL_MS = 30_000;

/**
 * Anyone who may publish to `homeassistant/status` could otherwise make the kiosk re-send its whole discovery set
 * (and state) as fast as they publish. One burst per interval; the configs are retained, so a skipped request
 * still finds them on the broker.
 */
export class DiscoveryThrottle {
  private last: number | null = null;

  constructor(
    private readonly minIntervalMs: number,
    private readonly now: () => number,
  ) {}

  /** True when a burst may go now (and counts it); false within the interval of the last one. */
  take(): boolean {
    const t = this.now();
    if (this.last !== null && t - this.last < this.minIntervalMs && t >= this.last) return false;
    this.last = t;
    return true;
  }

  /** Milliseconds since the last burst (null before the first). */
  sinceLast(): number | null {
    return this.last === null ? null : this.now() - this.last;
  }
}
