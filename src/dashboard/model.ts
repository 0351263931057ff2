/**
 * What the dashboard shows, as a pure reducer over contract payloads (from MQTT or, in-process, built from the
 * pipeline's events and frames). No terminal, no network, no clock: times come in.
 */
import { EMOTIONS, type Emotion } from '../model/index.js';
import { parseContractMessage, type ContractMessage, type CountsPayload, type IncomingStatsPayload, type StatePayload, type TopicKind, type ModelStatePayload, type RemoteMessage } from '../contract/index.js';
import { printable } from './printable.js';

export const MIX_SAMPLES = 60;
export const LOG_LINES = 200;
/** Most devices kept: past it the one offline longest (else seen longest ago) is forgotten; the shown one never. */
export const MAX_DEVICES = 1_000;
/** Event ids remembered per device to drop QoS 1 duplicates (they arrive close together). */
export const SEEN_EVENT_IDS = 1_024;

export interface DeviceView {
  deviceId: string;
  /** null until an availability message came. */
  online: boolean | null;
  offlineReason: string | null;
  lastSeen: number;
  state: StatePayload | null;
  counts: CountsPayload | null;
  stats: IncomingStatsPayload | null;
  /**
   * When the shown stats were measured, on the dashboard's clock: the stats' own timestamp, or when they arrived if
   * that is later (a device clock ahead of ours). A retained message read at start-up keeps its real age.
   */
  statsAt: number | null;
  /** Emotions entered (appeared with / changed to) since the dashboard started. */
  emotionTotals: Record<Emotion, number>;
  eventTotal: number;
  /** Faces per emotion, sampled once per tick, oldest first. */
  mix: Record<Emotion, number>[];
  seenEventIds: Set<string>;
  /** The retained model state (command bus); null when the device has remote control off. */
  model: ModelStatePayload['model'] | null;
  /** The last response of the device to any request (anyone's), in a line. */
  lastResponse: { command: string; status: 'ok' | 'error'; text: string; at: number } | null;
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
  /** Messages dropped because they broke the contract (shown in the status line), the last one's topic and why. */
  malformed: { count: number; lastTopic: string | null; lastReason: string | null };
  /** Devices forgotten to keep the map at MAX_DEVICES. */
  evicted: number;
}

export function createDashboardState(filter: string, sourceLabel: string): DashboardState {
  return {
    devices: new Map(),
    selected: filter === 'all' ? null : filter,
    filter,
    paused: false,
    log: [],
    source: { label: sourceLabel, connected: false, error: null },
    malformed: { count: 0, lastTopic: null, lastReason: null },
    evicted: 0,
  };
}

function zero(): Record<Emotion, number> {
  const o = {} as Record<Emotion, number>;
  for (const e of EMOTIONS) o[e] = 0;
  return o;
}

function device(s: DashboardState, id: string): DeviceView {
  let d = s.devices.get(id);
  if (!d) {
    if (s.devices.size >= MAX_DEVICES) evictOne(s);
    d = { deviceId: id, online: null, offlineReason: null, lastSeen: 0, state: null, counts: null, stats: null, statsAt: null, emotionTotals: zero(), eventTotal: 0, mix: [], seenEventIds: new Set(), model: null, lastResponse: null };
    s.devices.set(id, d);
    if (s.selected === null) s.selected = id;
  }
  return d;
}

/** Forgets the device offline longest (not online, oldest lastSeen), else the one seen longest ago; never the selected one. */
function evictOne(s: DashboardState): void {
  let victim: DeviceView | null = null;
  for (const d of s.devices.values()) {
    if (d.deviceId === s.selected) continue;
    if (!victim) victim = d;
    else {
      const dOff = d.online !== true;
      const vOff = victim.online !== true;
      if ((dOff && !vOff) || (dOff === vOff && d.lastSeen < victim.lastSeen)) victim = d;
    }
  }
  if (victim) {
    s.devices.delete(victim.deviceId);
    s.evicted += 1;
  }
}

function pushLog(s: DashboardState, line: LogLine): void {
  s.log.push(line);
  if (s.log.length > LOG_LINES) s.log.splice(0, s.log.length - LOG_LINES);
}

/**
 * Applies one message as received: it is checked against the contract first (src/contract/contract.ts); one that breaks
 * it is dropped and counted (a dashboard never crashes on, or shows, someone's malformed message). Returns whether it
 * was applied. `topic` names it in the malformed count.
 */
export function applyMessage(s: DashboardState, deviceId: string, kind: TopicKind, payload: unknown, now: number, topic = `${deviceId}/${kind}`): boolean {
  const r = parseContractMessage(deviceId, kind, payload);
  if (!r.ok) {
    noteMalformed(s, topic, r.reason);
    return false;
  }
  applyContractMessage(s, r.message, now);
  return true;
}

/** Counts a message that broke the contract (the subscriber reports those it dropped itself). */
export function noteMalformed(s: DashboardState, topic: string, reason: string): void {
  s.malformed = { count: s.malformed.count + 1, lastTopic: topic, lastReason: reason };
}

/** Applies a message that already passed the contract (the subscriber parses with it). */
export function applyContractMessage(s: DashboardState, m: ContractMessage, now: number): void {
  const deviceId = m.deviceId;
  if (s.filter !== 'all' && deviceId !== s.filter) return;
  const d = device(s, deviceId);
  d.lastSeen = now;
  switch (m.kind) {
    case 'availability': {
      const a = m.payload;
      const online = a.state === 'online';
      const reason = a.state === 'offline' ? a.reason : null;
      if (d.online !== online) pushLog(s, { t: now, deviceId, kind: 'status', text: online ? 'ONLINE' : `OFFLINE (${reason ?? 'unknown'})` });
      d.online = online;
      d.offlineReason = reason;
      if (!online) d.state = d.state ? { ...d.state, faces: 0, facesInView: [], emotions: zero() } : null;
      break;
    }
    case 'events': {
      const e = m.payload;
      if (d.seenEventIds.has(e.eventId)) return; // QoS 1 may deliver twice
      d.seenEventIds.add(e.eventId);
      if (d.seenEventIds.size > SEEN_EVENT_IDS) d.seenEventIds = new Set([...d.seenEventIds].slice(-SEEN_EVENT_IDS / 2));
      d.eventTotal += 1;
      if (e.type !== 'left') d.emotionTotals[e.emotion] += 1;
      const what = e.type === 'emotion_changed' ? `${e.previousEmotion} -> ${e.emotion}` : e.emotion;
      pushLog(s, { t: e.timestamp, deviceId, kind: 'event', text: `face ${e.faceId} ${e.type.replace('_', ' ')} ${what} ${Math.round(e.confidence * 100)}%` });
      if (d.online === null) d.online = true;
      break;
    }
    case 'state':
      d.state = m.payload;
      break;
    case 'counts':
      d.counts = m.payload;
      break;
    case 'stats':
      d.stats = m.payload;
      d.statsAt = Math.min(now, m.payload.timestamp);
      break;
  }
}

/** Applies a command bus message (src/fleet/watch.ts parsed it with the contract): model state, or a response. */
export function applyRemoteMessage(s: DashboardState, m: RemoteMessage, now: number): void {
  if (s.filter !== 'all' && m.deviceId !== s.filter) return;
  const d = device(s, m.deviceId);
  if (m.kind === 'model') {
    const was = d.model;
    d.model = m.payload.model;
    if (was && (was.version !== d.model.version || was.status !== d.model.status)) {
      pushLog(s, { t: now, deviceId: d.deviceId, kind: 'status', text: `model ${d.model.version} ${d.model.status}${d.model.reason ? ` (${d.model.reason})` : ''}` });
    }
    return;
  }
  const r = m.payload;
  const text = r.status === 'ok' ? responseSummary(r.data) : r.error;
  d.lastResponse = { command: r.command, status: r.status, text, at: now };
  pushLog(s, { t: now, deviceId: d.deviceId, kind: 'status', text: `${r.command}: ${r.status}${text ? (r.status === 'ok' ? ' ' : ': ') + text : ''}` });
}

/** A response's data in a few words: its status/version/healthy fields when it has them. */
function responseSummary(data: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const k of ['status', 'version', 'healthy', 'enabled', 'restarting'] as const) {
    const v = data[k];
    if (typeof v === 'string') parts.push(v.slice(0, 60));
    else if (typeof v === 'boolean') parts.push(`${k} ${v}`);
  }
  if (typeof data.fps === 'number') parts.push(`fps ${data.fps}`);
  return parts.join(' ');
}

/** The status line's note on dropped messages ('' when none). */
export function malformedText(s: DashboardState): string {
  const n = s.malformed.count;
  return n === 0 ? '' : `ignored ${n} malformed message${n === 1 ? '' : 's'}`;
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
  // the model from the retained model state (devices with remote control on; the stats carry the version too)
  const model = d?.model ? `  model ${d.model.version} ${d.model.status}${d.model.previous ? ` (previous ${d.model.previous})` : ''}` : '';
  return ` ${d ? d.deviceId : '-'} ${status}${model}  [${n} device${n === 1 ? '' : 's'}]  ${src}${s.paused ? '  PAUSED' : ''}`;
}

/**
 * Below this confidence a face's label is shown as uncertain. The state payload carries no threshold (the tracker's
 * change rule is relative: `tracking.changeMargin`), so the dashboard uses the floor the kiosk's change rule used
 * to have: a label the tracker keeps by hysteresis while its own score fell to 2% must not read as a fact.
 */
export const UNCERTAIN_BELOW = 0.4;

export interface FaceLabelInput {
  emotion: Emotion;
  confidence: number;
  /** Per-emotion scores, where the payload carries them (the state payload does not today). */
  scores?: Partial<Record<Emotion, number>>;
}

/**
 * Whether a face's reported (stable) emotion is uncertain: its confidence is below `threshold`, or another emotion
 * scores higher (the tracker is holding the label while a rival leads, not yet by its change margin).
 */
export function isUncertain(f: FaceLabelInput, threshold = UNCERTAIN_BELOW): boolean {
  if (!(f.confidence >= threshold)) return true;
  if (f.scores) for (const e of EMOTIONS) if ((f.scores[e] ?? 0) > (f.scores[f.emotion] ?? f.confidence)) return true;
  return false;
}

/** One face's line: its emotion and that emotion's confidence; `happy?  22% unsure` when uncertain. */
export function faceLine(f: FaceLabelInput & { faceId: number }, threshold = UNCERTAIN_BELOW): string {
  const unsure = isUncertain(f, threshold);
  const pct = `${String(Math.round(f.confidence * 100)).padStart(3)}%`;
  return `#${f.faceId} ${(f.emotion + (unsure ? '?' : '')).padEnd(9)}${pct}${unsure ? ' unsure' : ''}`;
}

export function facesText(d: DeviceView | undefined): string {
  if (!d?.state) return 'no state yet';
  const lines = [`${d.state.faces} face(s) in view`];
  for (const f of d.state.facesInView.slice(0, 20)) lines.push(faceLine(f));
  return lines.join('\n');
}

/** Age in words: `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/**
 * Why the device's live figures (fps, latencies, broker state) are not live, or null when they are: the device is
 * offline (its last figures stay on screen, marked), or the dashboard has lost its own connection.
 */
export function staleReason(d: DeviceView | undefined, sourceConnected = true): string | null {
  if (!d?.stats) return null;
  if (d.online === false) return 'device offline';
  if (!sourceConnected) return 'dashboard not connected';
  return null;
}

/** The health panel's title: ` Kiosk ` or ` Kiosk: STALE (device offline) `. */
export function healthTitle(d: DeviceView | undefined, sourceConnected = true): string {
  const why = staleReason(d, sourceConnected);
  return why ? ` Kiosk: STALE (${why}) ` : ' Kiosk ';
}

/**
 * The health panel. With `now`, the stats' age (`stats 12 s ago`). Stale figures (staleReason) are marked: `last fps`,
 * and the broker state the device last reported is `unknown`, never `connected`.
 */
export function healthText(d: DeviceView | undefined, mqttOff = false, now?: number, sourceConnected = true): string {
  const st = d?.stats;
  const command = d?.lastResponse
    ? `last command: ${d.lastResponse.command} ${d.lastResponse.status}${d.lastResponse.text ? `${d.lastResponse.status === 'ok' ? ' ' : ': '}${d.lastResponse.text.slice(0, 160)}` : ''}${now !== undefined ? `  ${ago(now - d.lastResponse.at)}` : ''}`
    : '';
  if (!st) return command ? `no stats yet\n${command}` : 'no stats yet';
  const stale = staleReason(d, sourceConnected) !== null;
  const broker = mqttOff ? 'none (MQTT off)' : stale ? 'unknown' : st.broker.connected ? 'connected' : 'DISCONNECTED';
  const age = now !== undefined && d.statsAt !== null ? `  stats ${ago(now - d.statsAt)}` : '';
  return [
    `${stale ? 'last ' : ''}fps ${fmt(st.fps)}  detect ${fmt(st.latencyMs.detect)}ms  classify ${fmt(st.latencyMs.classify)}ms`,
    `CPU ${fmt(st.cpu.loadPct, 0, '%')}  temp ${fmt(st.cpu.temperatureC, 1, 'C')}  mem ${fmt(st.memory.usedPct, 0, '%')}  rss ${fmt(st.memory.processRssMb, 0, 'MB')}`,
    `up ${duration(st.uptimeS)}  broker ${broker}${age}`,
    mqttOff ? '' : `outbox ${st.outbox.pending} waiting${st.outbox.dropped ? `, ${st.outbox.dropped} DROPPED` : ''}${st.outbox.unstored ? `, ${st.outbox.unstored} NOT STORED` : ''}${st.outbox.durable ? '' : ' (memory only)'}`,
    d.counts ? `last ${d.counts.windowS}s: ${d.counts.events.appeared} in, ${d.counts.events.left} out, peak ${d.counts.peakFaces}` : '',
    command,
  ]
    .filter(Boolean)
    .join('\n');
}

export function logLines(s: DashboardState, n: number): string[] {
  const lines = s.filter === 'all' && s.devices.size > 1 ? s.log : s.log.filter((l) => !l.deviceId || l.deviceId === s.selected);
  return lines.slice(-n).map((l) => {
    const d = new Date(l.t);
    const t = Number.isFinite(d.getTime()) ? d.toISOString().slice(11, 19) : '--:--:--';
    return printable(`${t} ${l.deviceId ? l.deviceId + ' ' : ''}${l.text}`);
  });
}
