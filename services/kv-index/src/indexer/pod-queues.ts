/**
 * Per-key work queues that hand items over in chunks: the items of one key are processed one
 * chunk after another, in push order (a chunk holds whatever accumulated while the previous one
 * ran, up to `maxChunk`), while different keys run concurrently. The handler must not reject.
 */
export class KeyedBatches<T> {
  readonly #handler: (key: string, items: T[]) => Promise<void>;
  readonly #maxChunk: number;
  readonly #queues = new Map<string, T[]>();
  readonly #running = new Set<string>();
  #pending = 0;
  #waiters: { below: number; resolve: () => void }[] = [];

  readonly #lingerMs: number;
  /** Idle keys with items, started together when the linger timer fires. */
  readonly #lingering = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `lingerMs` > 0: an idle key's first item waits that long before its chunk starts, so items
   * arriving meanwhile (of every key) are handled in fewer, larger chunks; one timer for all keys.
   * A key already running takes what accumulated as soon as its chunk is done, as with 0.
   */
  constructor(handler: (key: string, items: T[]) => Promise<void>, maxChunk = 256, lingerMs = 0) {
    this.#handler = handler;
    this.#maxChunk = maxChunk;
    this.#lingerMs = lingerMs;
  }

  push(key: string, item: T): void {
    let q = this.#queues.get(key);
    if (!q) {
      q = [];
      this.#queues.set(key, q);
    }
    q.push(item);
    this.#pending++;
    if (this.#running.has(key)) return;
    if (this.#lingerMs <= 0) {
      void this.#run(key, q);
      return;
    }
    this.#lingering.add(key);
    this.#timer ??= setTimeout(() => this.#startLingering(), this.#lingerMs);
  }

  #startLingering(): void {
    this.#timer = undefined;
    const keys = [...this.#lingering];
    this.#lingering.clear();
    for (const key of keys) {
      const q = this.#queues.get(key);
      if (q && q.length > 0 && !this.#running.has(key)) void this.#run(key, q);
    }
  }

  /** Items pushed and not yet handled. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves once fewer than `n` items are pending. */
  async whenBelow(n: number): Promise<void> {
    if (this.#pending < n) return;
    await new Promise<void>((resolve) => this.#waiters.push({ below: n, resolve }));
  }

  async drain(): Promise<void> {
    await this.whenBelow(1);
  }

  async #run(key: string, q: T[]): Promise<void> {
    this.#running.add(key);
    try {
      while (q.length > 0) {
        const chunk = q.splice(0, this.#maxChunk);
        await this.#handler(key, chunk);
        this.#pending -= chunk.length;
        // Nobody waits in the steady state: no new array per chunk then.
        if (this.#waiters.length > 0)
          this.#waiters = this.#waiters.filter((w) => {
            if (this.#pending >= w.below) return true;
            w.resolve();
            return false;
          });
      }
    } finally {
      this.#running.delete(key);
      if (q.length === 0 && this.#queues.get(key) === q) this.#queues.delete(key);
    }
  }
}
