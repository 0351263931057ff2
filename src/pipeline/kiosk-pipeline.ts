/**
 * The kiosk loop: frame -> faces -> emotions (one batch per frame) -> tracker -> events to sinks, frame reports to
 * sinks and the display. It knows its collaborators only through the small ports below, so it never imports
 * OpenCV, onnxruntime, MQTT or the dashboard.
 */
import type { Frame, FrameSource } from '../capture/index.js';
import type { EventSink, FaceEvent, FrameReport, TrackedFaceView } from '../events/index.js';
import type { Box } from '../detection/index.js';
import type { EmotionScores } from '../model/index.js';
import { type Logger, RateMeter, round } from '../util/index.js';
import { FaceTracker, type TrackerConfig } from './face-tracker.js';
import { LogHistogram } from './log-histogram.js';

export interface FaceDetectorPort {
  detectAndCrop(mat: Frame['mat'], cropSize: number): Array<{ box: Box; crop: Uint8Array }>;
}

export interface ClassifierPort {
  readonly inputSize: number;
  classify(crops: readonly Uint8Array[]): Promise<EmotionScores[]>;
}

export interface DisplayPort {
  show(frame: Frame, faces: TrackedFaceView[], info: { fps: number }): 'continue' | 'quit';
  close(): void;
}

export interface PipelineOptions {
  source: FrameSource;
  detector: FaceDetectorPort;
  classifier: ClassifierPort;
  tracker: FaceTracker;
  sinks: readonly EventSink[];
  display?: DisplayPort;
  logger: Logger;
  /** Run detection on every Nth frame (1 = all). */
  detectEveryNthFrame?: number;
  clock?: () => number;
}

export interface RunSummary {
  source: string;
  frames: number;
  /** Frames on which the detector found at least one face. */
  framesWithFaces: number;
  framesDetected: number;
  /** Face detections summed over all frames. */
  facesDetected: number;
  /** Distinct tracked faces confirmed. */
  facesTracked: number;
  events: number;
  eventsByType: Record<FaceEvent['type'], number>;
  fps: number;
  wallSeconds: number;
  captureMsP50: number;
  detectMsP50: number;
  detectMsP95: number;
  classifyMsP50: number;
  classifyMsP95: number;
  /** Frame capture to event decision. */
  eventLatencyMsP50: number;
  eventLatencyMsP95: number;
  stoppedBy: 'end-of-source' | 'max-frames' | 'quit-key' | 'signal';
}

export class KioskPipeline {
  private readonly clock: () => number;

  constructor(private readonly opts: PipelineOptions) {
    this.clock = opts.clock ?? (() => performance.now());
  }

  async run({ maxFrames = Infinity, signal }: { maxFrames?: number; signal?: AbortSignal } = {}): Promise<Omit<RunSummary, 'source'> & { source: string }> {
    const { source, detector, classifier, tracker, sinks, display, logger } = this.opts;
    const every = Math.max(1, this.opts.detectEveryNthFrame ?? 1);
    const meter = new RateMeter(30);
    // Bounded: fixed-size histograms (1 % relative error), not one array entry per frame (issue 11, defect 4).
    const captureMs = new LogHistogram();
    const detectMs = new LogHistogram();
    const classifyMs = new LogHistogram();
    const latencies = new LogHistogram();
    const eventsByType: RunSummary['eventsByType'] = { appeared: 0, emotion_changed: 0, left: 0 };
    let frames = 0;
    let framesWithFaces = 0;
    let framesDetected = 0;
    let facesDetected = 0;
    let stoppedBy: RunSummary['stoppedBy'] = 'end-of-source';
    let last: { index: number; timestamp: number } = { index: 0, timestamp: Date.now() };

    // Sink calls still running (an outbox append): at most a few at a time; awaited before run() returns, so the
    // events of the last frames (the final `left`s) are handed over before the caller stops the sinks.
    const pendingSinks = new Set<Promise<void>>();
    const emit = (events: FaceEvent[]) => {
      for (const ev of events) {
        eventsByType[ev.type]++;
        latencies.add(ev.timestamp - ev.frameTimestamp);
        for (const sink of sinks) {
          try {
            const r = sink.onEvent(ev);
            if (r instanceof Promise) {
              const p = r.catch((err: Error) => logger.error(`sink ${sink.name} failed on event ${ev.eventId}: ${err.message}`)).finally(() => pendingSinks.delete(p));
              pendingSinks.add(p);
            }
          } catch (err) {
            logger.error(`sink ${sink.name} failed on event ${ev.eventId}: ${(err as Error).message}`);
          }
        }
      }
    };

    const frameFailures = new Map<string, number>();
    const started = this.clock();
    while (frames < maxFrames) {
      if (signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      const t0 = this.clock();
      const frame = await source.read();
      if (!frame) break;
      const t1 = this.clock();
      captureMs.add(t1 - t0);
      frames++;
      last = { index: frame.index, timestamp: frame.timestamp };

      let faces: Array<{ box: Box; crop: Uint8Array }> | undefined;
      let dMs = 0;
      let cMs = 0;
      if (frame.index % every === 0) {
        faces = detector.detectAndCrop(frame.mat, classifier.inputSize);
        const t2 = this.clock();
        dMs = t2 - t1;
        detectMs.add(dMs);
        framesDetected++;
        facesDetected += faces.length;
        if (faces.length > 0) framesWithFaces++;
        const scores = await classifier.classify(faces.map((f) => f.crop));
        cMs = this.clock() - t2;
        if (faces.length > 0) classifyMs.add(cMs);
        // Files: the tracker's time rules run on the clip's own clock, so its events do not depend on this machine's speed.
        const out = tracker.update(frame.index, frame.timestamp, faces.map((f, i) => ({ box: f.box, scores: scores[i]! })), frame.mediaMs ?? frame.timestamp);
        emit(out.events);
      }
      const fps = meter.tick(this.clock());
      const inView = tracker.activeFaces();
      const report: FrameReport = {
        frameIndex: frame.index,
        frameTimestamp: frame.timestamp,
        faces: inView,
        detections: faces?.length ?? 0,
        captureMs: t1 - t0,
        detectMs: dMs,
        classifyMs: cMs,
        fps,
      };
      for (const sink of sinks) {
        try {
          sink.onFrame?.(report);
        } catch (err) {
          // Isolated like onEvent; a sink that fails on every frame is logged once, then counted.
          const n = (frameFailures.get(sink.name) ?? 0) + 1;
          frameFailures.set(sink.name, n);
          if (n === 1) logger.error(`sink ${sink.name} failed on frame ${frame.index}: ${(err as Error).message} (further frame failures of this sink are counted)`);
        }
      }
      const action = display?.show(frame, inView, { fps });
      // Frames are big native buffers: free them now rather than waiting for the garbage collector.
      frame.mat.release();
      if (action === 'quit') {
        stoppedBy = 'quit-key';
        break;
      }
    }
    if (frames >= maxFrames && stoppedBy === 'end-of-source') stoppedBy = 'max-frames';
    emit(tracker.flush(last.index, last.timestamp));
    await Promise.all([...pendingSinks]);
    for (const [name, n] of frameFailures) if (n > 1) logger.error(`sink ${name} failed on ${n} frames in all`);
    const wallSeconds = (this.clock() - started) / 1000;
    logger.debug(`pipeline stopped (${stoppedBy}) after ${frames} frames`);
    return {
      source: source.description,
      frames,
      framesWithFaces,
      framesDetected,
      facesDetected,
      // Every confirmed face has exactly one `appeared` event (a counter instead of a set of ids that grows for months).
      facesTracked: eventsByType.appeared,
      events: eventsByType.appeared + eventsByType.emotion_changed + eventsByType.left,
      eventsByType,
      fps: round(wallSeconds > 0 ? frames / wallSeconds : 0, 1),
      wallSeconds: round(wallSeconds, 2),
      captureMsP50: round(captureMs.quantile(0.5)),
      detectMsP50: round(detectMs.quantile(0.5)),
      detectMsP95: round(detectMs.quantile(0.95)),
      classifyMsP50: round(classifyMs.quantile(0.5)),
      classifyMsP95: round(classifyMs.quantile(0.95)),
      eventLatencyMsP50: round(latencies.quantile(0.5)),
      eventLatencyMsP95: round(latencies.quantile(0.95)),
      stoppedBy,
    };
  }
}
