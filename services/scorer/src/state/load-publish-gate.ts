/**
 * When a pod's EndpointLoad is published: when it changed, but at most every `minIntervalMs` (under
 * traffic the in-flight counts change on nearly every scrape, and every scrape would otherwise be a
 * NATS message that each consumer decodes), and at least every `heartbeatMs` (so followers can tell a
 * quiet server from a lost publisher). `minIntervalMs` 0 publishes every change.
 */
export class LoadPublishGate {
  readonly #minIntervalMs: number;
  readonly #heartbeatMs: number;
  readonly #last = new Map<string, { fingerprint: string; atMs: number }>();

  constructor(opts: { minIntervalMs: number; heartbeatMs: number }) {
    this.#minIntervalMs = opts.minIntervalMs;
    this.#heartbeatMs = opts.heartbeatMs;
  }

  /**
   * Whether the load `fingerprint` of `key` is published now ("send"; it then counts as published),
   * is the one last published ("unchanged"), or changed too soon after the last publish ("deferred":
   * a later scrape publishes the load as it is then).
   */
  admit(key: string, fingerprint: string, nowMs: number): "send" | "unchanged" | "deferred" {
    const last = this.#last.get(key);
    if (last !== undefined) {
      const elapsed = nowMs - last.atMs;
      if (last.fingerprint === fingerprint && elapsed < this.#heartbeatMs) return "unchanged";
      if (last.fingerprint !== fingerprint && elapsed < this.#minIntervalMs) return "deferred";
    }
    this.#last.set(key, { fingerprint, atMs: nowMs });
    return "send";
  }

  forget(key: string): void {
    this.#last.delete(key);
  }
}
