/** One delivered message; `applied` is set when its index writes are done. */
export interface AckSlot<M> {
  readonly message: M;
  applied: boolean;
}

/**
 * Which delivered stream message one cumulative ack ("AckPolicy all": everything up to it) may
 * name. Messages are applied per pod, pods in parallel, so they finish out of delivery order;
 * the floor is the newest message all of whose predecessors in delivery order are applied too.
 * Acking it acknowledges nothing that is still unapplied, so a crash before an ack replays
 * exactly the messages a per-message ack would have left unacknowledged, plus at most those
 * applied since the last ack (the index writes are idempotent: their checkpoints skip them).
 */
export class AckFloor<M extends { readonly seq: number }> {
  #slots: AckSlot<M>[] = [];
  #head = 0;
  /** Stream sequence of the last message returned by `take` (acks never go backwards). */
  #acked = 0;
  /** Slots before the floor not yet returned by `take`, i.e. applied and unacknowledged. */
  #ready: M | undefined;
  #readyCount = 0;

  /** Records a delivery, in delivery order; mark the slot applied when its writes are done. */
  delivered(message: M): AckSlot<M> {
    const slot = { message, applied: false };
    this.#slots.push(slot);
    return slot;
  }

  /** Applied messages the next `take` would acknowledge (after advancing the floor). */
  get ready(): number {
    this.#advance();
    return this.#readyCount;
  }

  /** Delivered messages not yet covered by an ack. */
  get unacked(): number {
    return this.#slots.length - this.#head + this.#readyCount;
  }

  /**
   * The message to acknowledge with one cumulative ack, or undefined when the floor did not
   * pass the last one taken (a redelivered older message never moves it back).
   */
  take(): M | undefined {
    this.#advance();
    const m = this.#ready;
    this.#ready = undefined;
    this.#readyCount = 0;
    if (m === undefined || m.seq <= this.#acked) return undefined;
    this.#acked = m.seq;
    return m;
  }

  #advance(): void {
    const slots = this.#slots;
    let head = this.#head;
    while (head < slots.length && slots[head]!.applied) {
      const m = slots[head]!.message;
      if (this.#ready === undefined || m.seq > this.#ready.seq) this.#ready = m;
      this.#readyCount++;
      head++;
    }
    // Drop the passed slots now and then instead of shifting the array per message.
    if (head > 1024 && head * 2 > slots.length) {
      this.#slots = slots.slice(head);
      head = 0;
    }
    this.#head = head;
  }
}
