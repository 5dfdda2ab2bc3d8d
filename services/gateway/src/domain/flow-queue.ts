/**
 * The waiting room of one model pool (reference §1.8, llm-d flow control): strict priority
 * between bands, round-robin between fairness ids inside a band, first-come-first-served inside
 * a flow, and a deadline per item. Pure: time is passed in, timers live in the adapter.
 */

export interface QueueItem<T> {
  readonly id: string;
  readonly priority: number;
  readonly fairnessId: string;
  readonly enqueuedAt: number;
  /** Absolute time (ms) after which the item expires. */
  readonly deadline: number;
  readonly value: T;
}

export type EnqueueResult<T> =
  | { readonly ok: true; readonly evicted: QueueItem<T> | undefined }
  | { readonly ok: false; readonly reason: "rejected-capacity" };

class Band<T> {
  readonly flows = new Map<string, QueueItem<T>[]>();
  /** Fairness ids in service order; the head is served next. */
  readonly order: string[] = [];
  size = 0;
}

export class FlowQueue<T> {
  readonly #maxItems: number;
  /** Bands sorted by priority, highest first. */
  #bands: { priority: number; band: Band<T> }[] = [];
  #size = 0;

  constructor(options: { maxItems: number }) {
    if (!(options.maxItems > 0)) throw new Error(`flow queue maxItems must be > 0, got ${options.maxItems}`);
    this.#maxItems = options.maxItems;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Adds an item. When the queue is full, the newest item of the lowest band is evicted if the
   * new item has a strictly higher priority; otherwise the new item is refused.
   */
  enqueue(item: QueueItem<T>): EnqueueResult<T> {
    let evicted: QueueItem<T> | undefined;
    if (this.#size >= this.#maxItems) {
      const lowest = this.#bands[this.#bands.length - 1];
      if (lowest === undefined || lowest.priority >= item.priority)
        return { ok: false, reason: "rejected-capacity" };
      evicted = this.#evictNewest(lowest.band);
    }
    this.#push(item, false);
    return { ok: true, evicted };
  }

  /** Puts an item back at the head of its flow (a dispatch attempt found no capacity). */
  requeueFront(item: QueueItem<T>): void {
    this.#push(item, true);
  }

  /** Removes and returns the next item to dispatch, or undefined when empty. */
  next(): QueueItem<T> | undefined {
    const top = this.#bands[0];
    if (top === undefined) return undefined;
    const band = top.band;
    const fairnessId = band.order.shift()!;
    const flow = band.flows.get(fairnessId)!;
    const item = flow.shift()!;
    if (flow.length > 0) band.order.push(fairnessId);
    else band.flows.delete(fairnessId);
    this.#afterRemove(top.priority, band);
    return item;
  }

  /** The item that next() would return, without removing it. */
  peek(): QueueItem<T> | undefined {
    const band = this.#bands[0]?.band;
    if (band === undefined) return undefined;
    return band.flows.get(band.order[0]!)?.[0];
  }

  /** Removes one item by id (client went away); true when it was queued. */
  remove(id: string): boolean {
    for (const { priority, band } of this.#bands) {
      for (const [fairnessId, flow] of band.flows) {
        const i = flow.findIndex((it) => it.id === id);
        if (i < 0) continue;
        flow.splice(i, 1);
        if (flow.length === 0) {
          band.flows.delete(fairnessId);
          band.order.splice(band.order.indexOf(fairnessId), 1);
        }
        this.#afterRemove(priority, band);
        return true;
      }
    }
    return false;
  }

  /** Removes and returns every item whose deadline is at or before `now`. */
  expire(now: number): QueueItem<T>[] {
    const out: QueueItem<T>[] = [];
    for (const it of this.items()) if (it.deadline <= now) out.push(it);
    for (const it of out) this.remove(it.id);
    return out;
  }

  /** Every queued item (no particular order). */
  *items(): Generator<QueueItem<T>> {
    for (const { band } of this.#bands) for (const flow of band.flows.values()) yield* flow;
  }

  /** Queued items per priority band. */
  sizeByPriority(): Map<number, number> {
    return new Map(this.#bands.map((b) => [b.priority, b.band.size]));
  }

  #push(item: QueueItem<T>, front: boolean): void {
    let entry = this.#bands.find((b) => b.priority === item.priority);
    if (entry === undefined) {
      entry = { priority: item.priority, band: new Band<T>() };
      this.#bands.push(entry);
      this.#bands.sort((a, b) => b.priority - a.priority);
    }
    const band = entry.band;
    let flow = band.flows.get(item.fairnessId);
    if (flow === undefined) {
      flow = [];
      band.flows.set(item.fairnessId, flow);
      // A returning flow is served first when it was at the head, last otherwise.
      if (front) band.order.unshift(item.fairnessId);
      else band.order.push(item.fairnessId);
    } else if (front) {
      // Give the flow its turn back.
      band.order.splice(band.order.indexOf(item.fairnessId), 1);
      band.order.unshift(item.fairnessId);
    }
    if (front) flow.unshift(item);
    else flow.push(item);
    band.size++;
    this.#size++;
  }

  #evictNewest(band: Band<T>): QueueItem<T> {
    let newest: QueueItem<T> | undefined;
    for (const flow of band.flows.values()) {
      const last = flow[flow.length - 1];
      if (last !== undefined && (newest === undefined || last.enqueuedAt >= newest.enqueuedAt)) newest = last;
    }
    this.remove(newest!.id);
    return newest!;
  }

  #afterRemove(priority: number, band: Band<T>): void {
    band.size--;
    this.#size--;
    if (band.size === 0) this.#bands = this.#bands.filter((b) => b.priority !== priority);
  }
}
