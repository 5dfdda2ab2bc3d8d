import type { SessionLookup } from "../framework/handle.ts";

/** Session id -> pod it last went to, with last-use time. Bounded: the least recently used go first. */
export class SessionStore implements SessionLookup {
  private readonly bindings = new Map<string, { pod: string; lastMs: number }>();
  private readonly capacity: number;

  constructor(capacity = 200_000) {
    this.capacity = capacity;
  }

  bind(sessionId: string, pod: string, nowMs: number): void {
    if (!sessionId || !pod) return;
    this.bindings.delete(sessionId);
    this.bindings.set(sessionId, { pod, lastMs: nowMs });
    if (this.bindings.size > this.capacity) {
      const oldest = this.bindings.keys().next().value as string;
      this.bindings.delete(oldest);
    }
  }

  get(sessionId: string, nowMs: number, maxIdleMs: number): string | undefined {
    const b = this.bindings.get(sessionId);
    if (!b) return undefined;
    if (nowMs - b.lastMs > maxIdleMs) {
      this.bindings.delete(sessionId);
      return undefined;
    }
    return b.pod;
  }

  /** Drops bindings unused for longer than `maxIdleMs`. */
  sweep(nowMs: number, maxIdleMs: number): void {
    for (const [id, b] of this.bindings) {
      if (nowMs - b.lastMs > maxIdleMs) this.bindings.delete(id);
    }
  }

  get size(): number {
    return this.bindings.size;
  }
}
