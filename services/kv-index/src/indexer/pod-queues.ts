/**
 * One promise chain per key (pod): tasks of a key run one after another, in enqueue order,
 * while tasks of different keys run concurrently. Tasks must not reject.
 */
export class KeyedQueues {
  readonly #tails = new Map<string, Promise<void>>();
  #pending = 0;
  #waiters: { below: number; resolve: () => void }[] = [];

  enqueue(key: string, task: () => Promise<void>): void {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(task);
    this.#tails.set(key, next);
    this.#pending++;
    void next.finally(() => {
      this.#pending--;
      if (this.#tails.get(key) === next) this.#tails.delete(key);
      this.#waiters = this.#waiters.filter((w) => {
        if (this.#pending >= w.below) return true;
        w.resolve();
        return false;
      });
    });
  }

  get pending(): number {
    return this.#pending;
  }

  /** Resolves once fewer than `n` tasks are queued or running. */
  async whenBelow(n: number): Promise<void> {
    if (this.#pending < n) return;
    await new Promise<void>((resolve) => this.#waiters.push({ below: n, resolve }));
  }

  async drain(): Promise<void> {
    await this.whenBelow(1);
  }
}
