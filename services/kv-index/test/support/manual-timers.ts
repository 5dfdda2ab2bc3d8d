import type { Timers } from "../../src/ingest/coalescer.ts";

/** Timers that fire only when told: the coalescing policy tested without waiting. */
export class ManualTimers implements Timers {
  readonly #armed = new Map<number, { fn: () => void; ms: number }>();
  #next = 0;

  set(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#armed.set(id, { fn, ms });
    return id;
  }

  clear(handle: unknown): void {
    this.#armed.delete(handle as number);
  }

  get armed(): number[] {
    return [...this.#armed.values()].map((t) => t.ms);
  }

  /** Fires every armed timer (their linger has passed). */
  fireAll(): void {
    const due = [...this.#armed.values()];
    this.#armed.clear();
    for (const t of due) t.fn();
  }
}
