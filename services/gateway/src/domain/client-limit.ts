/**
 * Concurrent requests per client: a client is its API key (when it sent one) or its address.
 * `enter` refuses once the client has `max` requests in flight (0 = no limit); `leave` must be
 * called once for every accepted `enter`. Pure: no I/O.
 */
export class ClientLimit {
  readonly #max: number;
  readonly #inFlight = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  enter(client: string): boolean {
    if (this.#max === 0) return true;
    const n = this.#inFlight.get(client) ?? 0;
    if (n >= this.#max) return false;
    this.#inFlight.set(client, n + 1);
    return true;
  }

  leave(client: string): void {
    if (this.#max === 0) return;
    const n = (this.#inFlight.get(client) ?? 1) - 1;
    // Idle clients leave no entry behind: the map holds only clients with work in flight.
    if (n <= 0) this.#inFlight.delete(client);
    else this.#inFlight.set(client, n);
  }

  /** Clients with requests in flight (for tests and metrics). */
  get clients(): number {
    return this.#inFlight.size;
  }
}
