/**
 * The classifier the pipeline sees, switchable between two frames: a requested switch takes effect when the pipeline
 * next asks for the input size (the start of a frame's detection), so one frame's crops and scores always come from
 * one model. The previous model stays loaded for a rollback; a classification error of the new model within the
 * rollback window returns to the previous one at once (that frame is classified again by it: no frame is lost).
 * The shared ModelRef (events, state, stats carry it) is updated in place at the switch.
 *
 * State: `verifying` from the switch until the rollback window closes (the new model serves, on probation: a
 * failure rolls it back by itself), then `active` (settle()); `rolled_back` after a rollback, with the reason.
 */
import type { EmotionScores } from '../model/index.js';
import type { ModelRef } from '../events/index.js';

export interface SwitchableModel {
  readonly inputSize: number;
  classify(crops: readonly Uint8Array[]): Promise<EmotionScores[]>;
  close(): Promise<void>;
  readonly ref: ModelRef;
  readonly path: string;
}

export type ModelStatus = 'active' | 'verifying' | 'rolled_back';
export interface ModelState {
  version: string;
  previous: string | null;
  status: ModelStatus;
  since: number;
  /** verifying: when the rollback window closes (epoch ms). */
  until?: number;
  reason?: string;
}

export class SwitchableClassifier {
  private current: SwitchableModel;
  private previous: SwitchableModel | null = null;
  private pending: { model: SwitchableModel; done: () => void } | null = null;
  private switchedAt = 0;
  private stateNow: ModelState;
  /** Called on every switch and rollback (the retained <prefix>/<device>/model state). */
  onState: ((s: ModelState) => void) | null = null;

  constructor(
    initial: SwitchableModel,
    /** The ModelRef object the tracker and telemetry hold: changed in place. */
    private readonly shared: ModelRef,
    private readonly o: { windowMs: number; now?: () => number },
  ) {
    this.current = initial;
    this.stateNow = { version: initial.ref.version, previous: null, status: 'active', since: this.now() };
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  get state(): ModelState {
    return this.stateNow;
  }

  get inputSize(): number {
    if (this.pending) this.applyPending();
    return this.current.inputSize;
  }

  async classify(crops: readonly Uint8Array[]): Promise<EmotionScores[]> {
    const model = this.current;
    try {
      return await this.run(model, crops);
    } catch (err) {
      const prev = this.previous;
      if (!prev || model !== this.current || this.now() - this.switchedAt > this.o.windowMs) throw err;
      this.rollback(`classification failed with ${model.ref.version}: ${(err as Error).message.split('\n')[0]}`);
      return this.run(prev, crops);
    }
  }

  /** Runs that have not finished, per model: a model is closed only when none is left (a rollback during a run). */
  private readonly inflight = new Map<SwitchableModel, number>();
  private readonly retiring = new Set<SwitchableModel>();

  private async run(model: SwitchableModel, crops: readonly Uint8Array[]): Promise<EmotionScores[]> {
    this.inflight.set(model, (this.inflight.get(model) ?? 0) + 1);
    try {
      return await model.classify(crops);
    } finally {
      const n = (this.inflight.get(model) ?? 1) - 1;
      if (n > 0) this.inflight.set(model, n);
      else {
        this.inflight.delete(model);
        if (this.retiring.delete(model)) void model.close();
      }
    }
  }

  /** Closes a model now, or after its last run finishes (its session must not be released under a running inference). */
  private retire(model: SwitchableModel): void {
    if ((this.inflight.get(model) ?? 0) > 0) this.retiring.add(model);
    else void model.close();
  }

  /** Resolves once the pipeline classifies with `model` (between two frames). */
  switchTo(model: SwitchableModel): Promise<void> {
    if (this.pending) void this.pending.model.close();
    return new Promise((done) => {
      this.pending = { model, done };
    });
  }

  /** Back to the previous model (kept loaded); false when there is none. */
  rollback(reason: string): boolean {
    const prev = this.previous;
    if (!prev) return false;
    const bad = this.current;
    this.current = prev;
    this.previous = null;
    this.setRef(prev.ref);
    this.retire(bad);
    this.stateNow = { version: prev.ref.version, previous: bad.ref.version, status: 'rolled_back', since: this.now(), reason };
    this.onState?.(this.stateNow);
    return true;
  }

  /** verifying -> active once the rollback window has closed; true when the state changed (onState is called). */
  settle(): boolean {
    const st = this.stateNow;
    if (st.status !== 'verifying' || st.until === undefined || this.now() < st.until) return false;
    this.stateNow = { version: st.version, previous: st.previous, status: 'active', since: this.now() };
    this.onState?.(this.stateNow);
    return true;
  }

  /** This start is on a switched-to model inside its rollback window (a restart after model/update). */
  markVerifying(until: number, previousVersion: string | null): void {
    this.stateNow = { ...this.stateNow, previous: previousVersion, status: 'verifying', until };
  }

  /** This start already returned to the previous model (it crashed on start with the new one). */
  markRolledBack(reason: string, from: string | null = null): void {
    this.stateNow = { ...this.stateNow, previous: from, status: 'rolled_back', reason };
  }

  /** The file of the model serving now. */
  get currentPath(): string {
    return this.current.path;
  }

  get hasPrevious(): boolean {
    return this.previous !== null;
  }

  async close(): Promise<void> {
    for (const m of [this.pending?.model, this.previous, this.current]) await m?.close().catch(() => undefined);
  }

  private applyPending(): void {
    const { model, done } = this.pending!;
    this.pending = null;
    if (this.previous) this.retire(this.previous);
    this.previous = this.current;
    this.current = model;
    this.switchedAt = this.now();
    this.setRef(model.ref);
    this.stateNow = { version: model.ref.version, previous: this.previous.ref.version, status: 'verifying', since: this.switchedAt, until: this.switchedAt + this.o.windowMs };
    this.onState?.(this.stateNow);
    done();
  }

  private setRef(ref: ModelRef): void {
    this.shared.name = ref.name;
    this.shared.version = ref.version;
  }
}
