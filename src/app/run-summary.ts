/** The end-of-run summary: a JSON file for scripts and a few lines for people. */
import { writeFileSync } from 'node:fs';
import type { RunSummary } from '../pipeline/index.js';

export interface KioskRunSummary extends RunSummary {
  model: { name: string; version: string; file: string; untrained: boolean };
  detection: { scaleFactor: number; minNeighbors: number; minSize: number; downscaleWidth: number; everyNthFrame: number };
}

export function writeSummaryJson(file: string, summary: KioskRunSummary): void {
  writeFileSync(file, JSON.stringify(summary, null, 2) + '\n');
}

export function formatSummary(s: KioskRunSummary): string {
  const pct = s.framesDetected > 0 ? ((s.framesWithFaces / s.framesDetected) * 100).toFixed(0) : '0';
  return [
    `source   ${s.source}`,
    `model    ${s.model.name} ${s.model.version}${s.model.untrained ? ' (UNTRAINED weights: scores are meaningless)' : ''}`,
    `frames   ${s.frames} in ${s.wallSeconds} s = ${s.fps} fps (stopped: ${s.stoppedBy})`,
    `faces    found on ${s.framesWithFaces}/${s.framesDetected} frames (${pct}%), ${s.facesDetected} detections, ${s.facesTracked} tracked faces`,
    `events   ${s.events} (appeared ${s.eventsByType.appeared}, emotion_changed ${s.eventsByType.emotion_changed}, left ${s.eventsByType.left})`,
    `latency  detect p50 ${s.detectMsP50} ms, classify p50 ${s.classifyMsP50} ms, frame-to-event p50 ${s.eventLatencyMsP50} ms / p95 ${s.eventLatencyMsP95} ms`,
  ].join('\n');
}
