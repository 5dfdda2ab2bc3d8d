/**
 * Time source for the engine. Times are milliseconds (fractional allowed). Timers take an absolute
 * deadline so the engine can keep its own logical step timeline without accumulating setTimeout lateness.
 */
export interface Clock {
  now(): number;
  /** Runs `fn` once at (or after) `deadlineMs`. */
  setTimer(deadlineMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}

/** Wall-clock time (performance.now) and one setTimeout per armed timer. */
export class RealClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextId = 1;

  now(): number {
    return performance.now();
  }

  setTimer(deadlineMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const delay = Math.max(0, deadlineMs - this.now());
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, delay);
    this.timers.set(id, t);
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t) clearTimeout(t);
    this.timers.delete(handle.id);
  }
}

interface VirtualTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Discrete-event clock for tests and offline sweeps: time only moves when the caller advances it,
 * so an engine run of minutes of simulated time finishes in milliseconds.
 */
export class VirtualClock implements Clock {
  private t: number;
  private timers: VirtualTimer[] = [];
  private nextId = 1;
  private seq = 0;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimer(deadlineMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.timers.push({ id, at: Math.max(deadlineMs, this.t), seq: this.seq++, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers = this.timers.filter((x) => x.id !== handle.id);
  }

  /** Number of armed timers (0 means the engine is idle). */
  pending(): number {
    return this.timers.length;
  }

  /** Fires every timer due at or before `ms` in time order, then sets the clock to `ms`. */
  advanceTo(ms: number): void {
    for (;;) {
      const next = this.popDue(ms);
      if (!next) break;
      this.t = next.at;
      next.fn();
    }
    if (ms > this.t) this.t = ms;
  }

  /** Fires timers until none is left (or `maxTimers` fired, a guard against livelock in tests). */
  runUntilIdle(maxTimers = 10_000_000): void {
    for (let i = 0; i < maxTimers; i++) {
      const next = this.popDue(Number.POSITIVE_INFINITY);
      if (!next) return;
      this.t = next.at;
      next.fn();
    }
    throw new Error(`VirtualClock: still busy after ${maxTimers} timers`);
  }

  private popDue(limit: number): VirtualTimer | undefined {
    let best = -1;
    for (let i = 0; i < this.timers.length; i++) {
      const x = this.timers[i]!;
      if (x.at > limit) continue;
      const b = best >= 0 ? this.timers[best]! : undefined;
      if (!b || x.at < b.at || (x.at === b.at && x.seq < b.seq)) best = i;
    }
    if (best < 0) return undefined;
    return this.timers.splice(best, 1)[0];
  }
}
