/**
 * What the dashboard shows, as a pure reducer over contract payloads (from MQTT or, in-process, built from the
 * pipeline's events and frames). No terminal, no network, no clock: times come in.
 */
import { EMOTIONS, type Emotion } from '../model/labels.js';
import type { AvailabilityPayload, CountsPayload, EventPayload, StatePayload, StatsPayload } from '../mqtt/payloads.js';
import type { TopicKind } from '../mqtt/topics.js';

export const MIX_SAMPLES = 60;
export const LOG_LINES = 200;

export interface DeviceView {
  deviceId: string;
  /** null until an availability message came. */
  online: boolean | null;
  offlineReason: string | null;
  lastSeen: number;
  state: StatePayload | null;
  counts: CountsPayload | null;
  stats: StatsPayload | null;
  /** Emotions entered (appeared with / changed to) since the dashboard started. */
  emotionTotals: Record<Emotion, number>;
  eventTotal: number;
  /** Faces per emotion, sampled once per tick, oldest first. */
  mix: Record<Emotion, number>[];
  seenEventIds: Set<string>;
}

export interface LogLine {
  t: number;
  deviceId: string;
  text: string;
  kind: 'event' | 'status' | 'log';
}

export interface DashboardState {
  devices: Map<string, DeviceView>;
  /** Device shown; null until one appears. */
  selected: string | null;
  /** `all` or one device id: what the dashboard was asked to watch. */
  filter: string;
  paused: boolean;
  log: LogLine[];
  source: { label: string; connected: boolean; error: string | null };
  /** In-process dashboard of a kiosk that runs without MQTT (`--broker none`, mqtt.enabled false). */
  mqttOff?: boolean;
}

export function createDashboardState(filter: string, sourceLabel: string): DashboardState {
  return { devices: new Map(), selected: filter === 'all' ? null : filter, filter, paused: false, log: [], source: { label: sourceLabel, connected: false, error: null } };
}

function zero(): Record<Emotion, number> {
  const o = {} as Record<Emotion, number>;
  for (const e of EMOTIONS) o[e] = 0;
  return o;
}

function device(s: DashboardState, id: string): DeviceView {
  let d = s.devices.get(id);
  if (!d) {
    d = { deviceId: id, online: null, offlineReason: null, lastSeen: 0, state: null, counts: null, stats: null, emotionTotals: zero(), eventTotal: 0, mix: [], seenEventIds: new Set() };
    s.devices.set(id, d);
    if (s.selected === null) s.selected = id;
  }
  return d;
}

function pushLog(s: DashboardState, line: LogLine): void {
  s.log.push(line);
  if (s.log.length > LOG_LINES) s.log.splice(0, s.log.length - LOG_LINES);
}

/** Applies one contract message. Malformed payloads are ignored (a dashboard never crashes on someone's message). */
export function applyMessage(s: DashboardState, deviceId: string, kind: TopicKind, payload: unknown, now: number): void {
  if (!payload || typeof payload !== 'object' || (payload as { version?: unknown }).version !== 1) return;
  if (s.filter !== 'all' && deviceId !== s.filter) return;
  const d = device(s, deviceId);
  d.lastSeen = now;
  switch (kind) {
    case 'availability': {
      const a = payload as AvailabilityPayload;
      const online = a.state === 'online';
      if (d.online !== online) pushLog(s, { t: now, deviceId, kind: 'status', text: online ? 'ONLINE' : `OFFLINE (${a.reason ?? 'unknown'})` });
      d.online = online;
      d.offlineReason = online ? null : (a.reason ?? null);
      if (!online) d.state = d.state ? { ...d.state, faces: 0, facesInView: [], emotions: zero() } : null;
      break;
    }
    case 'events': {
      const e = payload as EventPayload;
      if (typeof e.eventId !== 'string' || d.seenEventIds.has(e.eventId)) return; // QoS 1 may deliver twice
      d.seenEventIds.add(e.eventId);
      if (d.seenEventIds.size > 10_000) d.seenEventIds = new Set([...d.seenEventIds].slice(-5_000));
      d.eventTotal += 1;
      if (e.type !== 'left' && e.emotion in d.emotionTotals) d.emotionTotals[e.emotion] += 1;
      const what = e.type === 'emotion_changed' ? `${e.previousEmotion ?? '?'} -> ${e.emotion}` : e.emotion;
      pushLog(s, { t: e.timestamp, deviceId, kind: 'event', text: `face ${e.faceId} ${e.type.replace('_', ' ')} ${what} ${Math.round(e.confidence * 100)}%` });
      if (d.online === null) d.online = true;
      break;
    }
    case 'state':
      d.state = payload as StatePayload;
      break;
    case 'counts':
      d.counts = payload as CountsPayload;
      break;
    case 'stats':
      d.stats = payload as StatsPayload;
      break;
  }
}

/** One sample of the emotion mix per device (called once a second). */
export function sampleMix(s: DashboardState): void {
  for (const d of s.devices.values()) {
    d.mix.push({ ...(d.state?.emotions ?? zero()) });
    if (d.mix.length > MIX_SAMPLES) d.mix.shift();
  }
}

export function addLog(s: DashboardState, text: string, now: number): void {
  pushLog(s, { t: now, deviceId: '', kind: 'log', text });
}

export function setSource(s: DashboardState, connected: boolean, error: string | null, now: number): void {
  if (s.source.connected !== connected || s.source.error !== error) {
    pushLog(s, { t: now, deviceId: '', kind: 'status', text: connected ? `connected to ${s.source.label}` : `${s.source.label}: ${error ?? 'disconnected'}` });
  }
  s.source = { ...s.source, connected, error };
}

/** Next device in id order (wraps); keyboard `d` / Tab. */
export function selectNext(s: DashboardState): void {
  const ids = [...s.devices.keys()].sort();
  if (ids.length === 0) return;
  const i = s.selected ? ids.indexOf(s.selected) : -1;
  s.selected = ids[(i + 1) % ids.length]!;
}

export function togglePause(s: DashboardState): void {
  s.paused = !s.paused;
}

/** Short labels that fit an 80-column bar chart. */
export const SHORT: Record<Emotion, string> = { angry: 'ang', disgust: 'dis', fear: 'fea', happy: 'hap', sad: 'sad', surprise: 'sur', neutral: 'neu' };

function fmt(x: number | null | undefined, digits = 1, unit = ''): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(digits)}${unit}`;
}

function duration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

/** Text of the panels (pure, so the layout file only places them). */
export function headerText(s: DashboardState): string {
  const d = s.selected ? s.devices.get(s.selected) : undefined;
  const status = !d ? 'waiting for a kiosk' : d.online === null ? 'UNKNOWN' : d.online ? 'ONLINE' : `OFFLINE${d.offlineReason ? ` (${d.offlineReason})` : ''}`;
  const n = s.devices.size;
  const src = s.source.connected ? s.source.label : `${s.source.label} (${s.source.error ? 'NOT CONNECTED, see log' : 'connecting'})`;
  return ` ${d ? d.deviceId : '-'} ${status}  [${n} device${n === 1 ? '' : 's'}]  ${src}${s.paused ? '  PAUSED' : ''}`;
}

export function facesText(d: DeviceView | undefined): string {
  if (!d?.state) return 'no state yet';
  const lines = [`${d.state.faces} face(s) in view`];
  for (const f of d.state.facesInView.slice(0, 20)) lines.push(`#${f.faceId} ${f.emotion.padEnd(8)} ${Math.round(f.confidence * 100)}%`);
  return lines.join('\n');
}

export function healthText(d: DeviceView | undefined, mqttOff = false): string {
  const st = d?.stats;
  if (!st) return 'no stats yet';
  return [
    `fps ${fmt(st.fps)}  detect ${fmt(st.latencyMs.detect)}ms  classify ${fmt(st.latencyMs.classify)}ms`,
    `CPU ${fmt(st.cpu.loadPct, 0, '%')}  temp ${fmt(st.cpu.temperatureC, 1, 'C')}  mem ${fmt(st.memory.usedPct, 0, '%')}  rss ${fmt(st.memory.processRssMb, 0, 'MB')}`,
    `up ${duration(st.uptimeS)}  broker ${mqttOff ? 'none (MQTT off)' : st.broker.connected ? 'connected' : 'DISCONNECTED'}`,
    mqttOff ? '' : `outbox ${st.outbox.pending} waiting${st.outbox.dropped ? `, ${st.outbox.dropped} DROPPED` : ''}${st.outbox.durable ? '' : ' (memory only)'}`,
    d.counts ? `last ${d.counts.windowS}s: ${d.counts.events.appeared} in, ${d.counts.events.left} out, peak ${d.counts.peakFaces}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

export function logLines(s: DashboardState, n: number): string[] {
  const lines = s.filter === 'all' && s.devices.size > 1 ? s.log : s.log.filter((l) => !l.deviceId || l.deviceId === s.selected);
  return lines.slice(-n).map((l) => {
    const t = new Date(l.t).toISOString().slice(11, 19);
    return `${t} ${l.deviceId ? l.deviceId + ' ' : ''}${l.text}`;
  });
}
