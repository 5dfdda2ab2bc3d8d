import { type KvEventBatch, KvEventBatchSchema, make } from "@inferd/protocol";

/**
 * Why a stream message went out:
 * - `off`: coalescing is off (publishLingerMs 0), one message per batch;
 * - `prefill`: a BlockStored of a prefill, what routing needs promptly: a chain starting at the root
 *   (a cold prompt) or several blocks at once (a prompt's uncached part after a cached prefix). A decode
 *   step stores one block per sequence, so those, and evictions, are what waits;
 * - `alone`: a replayed batch, an AllBlocksCleared or a PodReset, never merged with anything;
 * - `boundary`: what was pending before an `alone` batch or a sequence break;
 * - `linger`: the first pending batch waited `lingerMs`;
 * - `size`: the pending batches reached the size bound;
 * - `shutdown`: flushed on stop.
 */
export type FlushReason = "off" | "prefill" | "alone" | "boundary" | "linger" | "size" | "shutdown";

export interface CoalescerOptions {
  /** How long an engine's first pending batch waits for more (0: one message per batch, at once). */
  lingerMs: number;
  /** Batches merged into one message at most (default 64). */
  maxBatches?: number;
  /**
   * Block hashes (stored + removed) in one message at most (default 1024): with 16-token blocks
   * about 50 kB of protobuf, far below NATS's 1 MB payload limit, and one index write of bounded size.
   */
  maxBlocks?: number;
}

/** Timer functions (injected so the policy is tested without waiting). */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** What goes out: the message, its Nats-Msg-Id, how many engine batches it carries and why now. */
export type Emit = (batch: KvEventBatch, msgId: string, batches: number, reason: FlushReason) => void;

interface Pending {
  batches: { batch: KvEventBatch; msgId: string }[];
  blocks: number;
  timer: unknown;
}

/**
 * Merges consecutive batches of ONE engine (pod, DP rank) into one stream message, so the costs
 * paid per message (protobuf encode, JetStream publish and PubAck, delivery and decode in every
 * replica, the indexer's write and ack) are paid once per several engine steps. vLLM publishes one
 * batch per engine step that stored or removed a block: with many running decodes that is almost
 * every step, bounded by steps, not requests.
 *
 * A merged message is a KvEventBatch with the events concatenated in engine order, `seq`,
 * `ts_seconds` and the Nats-Msg-Id of the LAST batch, `first_seq` of the first, its
 * `received_unix_ms` (lag metrics include the wait here) and `batch_event_counts`. A single
 * batch goes out unchanged. Merged: only live batches with consecutive seqs; a replayed batch, an
 * AllBlocksCleared or a PodReset (an engine restart, a departed pod, an unrepaired gap) flushes
 * what is pending and goes out alone, so a merged message never spans an engine life.
 *
 * Pure policy: no I/O, the timers are injected. Call in the order batches are to be published;
 * emits in that order per engine.
 */
export class Coalescer {
  readonly #emit: Emit;
  readonly #lingerMs: number;
  readonly #maxBatches: number;
  readonly #maxBlocks: number;
  readonly #timers: Timers;
  readonly #pending = new Map<string, Pending>();

  constructor(emit: Emit, options: CoalescerOptions, timers: Timers = realTimers) {
    this.#emit = emit;
    this.#lingerMs = options.lingerMs;
    this.#maxBatches = Math.max(1, options.maxBatches ?? 64);
    this.#maxBlocks = Math.max(1, options.maxBlocks ?? 1024);
    this.#timers = timers;
  }

  /** Batches waiting, over all engines. */
  get pendingBatches(): number {
    let n = 0;
    for (const p of this.#pending.values()) n += p.batches.length;
    return n;
  }

  /** One normalised batch of an engine, in publish order. */
  add(batch: KvEventBatch, msgId: string): void {
    if (this.#lingerMs <= 0) {
      this.#emit(batch, msgId, 1, "off");
      return;
    }
    const key = engineKey(batch);
    let pending = this.#pending.get(key);
    if (batch.replayed || standsAlone(batch)) {
      if (pending) this.#flush(key, pending, "boundary");
      this.#emit(batch, msgId, 1, "alone");
      return;
    }
    if (pending) {
      const last = pending.batches[pending.batches.length - 1]!.batch;
      // Only consecutive batches of one engine life: a consumer splits a merged message by seq.
      if (batch.seq !== last.seq + 1n || batch.tsSeconds < last.tsSeconds) {
        this.#flush(key, pending, "boundary");
        pending = undefined;
      }
    }
    if (!pending) {
      pending = { batches: [], blocks: 0, timer: undefined };
      this.#pending.set(key, pending);
    }
    pending.batches.push({ batch, msgId });
    pending.blocks += blocksOf(batch);
    if (storesPrefill(batch)) this.#flush(key, pending, "prefill");
    else if (pending.batches.length >= this.#maxBatches || pending.blocks >= this.#maxBlocks)
      this.#flush(key, pending, "size");
    else if (pending.timer === undefined) {
      const p = pending;
      p.timer = this.#timers.set(() => {
        p.timer = undefined;
        if (this.#pending.get(key) === p) this.#flush(key, p, "linger");
      }, this.#lingerMs);
    }
  }

  /**
   * Drops what is pending for every engine of a pod that left the inventory; returns how many
   * batches. The indexer purges the pod through the stream: batches published after that purge
   * would bring its blocks back, and published before it they would be purged anyway.
   */
  dropPod(model: string, pod: string): number {
    let dropped = 0;
    for (const [key, p] of this.#pending) {
      const b = p.batches[0]!.batch;
      if (b.model !== model || b.pod !== pod) continue;
      this.#pending.delete(key);
      if (p.timer !== undefined) this.#timers.clear(p.timer);
      dropped += p.batches.length;
    }
    return dropped;
  }

  /** Sends everything pending (shutdown). */
  flushAll(): void {
    for (const [key, p] of this.#pending) this.#flush(key, p, "shutdown");
  }

  #flush(key: string, pending: Pending, reason: FlushReason): void {
    this.#pending.delete(key);
    if (pending.timer !== undefined) this.#timers.clear(pending.timer);
    const { batches } = pending;
    if (batches.length === 1) {
      this.#emit(batches[0]!.batch, batches[0]!.msgId, 1, reason);
      return;
    }
    this.#emit(
      merge(batches.map((b) => b.batch)),
      batches[batches.length - 1]!.msgId,
      batches.length,
      reason,
    );
  }
}

/** Consecutive batches of one engine as one message (see Coalescer). */
export function merge(batches: readonly KvEventBatch[]): KvEventBatch {
  const first = batches[0]!;
  const last = batches[batches.length - 1]!;
  return make(KvEventBatchSchema, {
    model: last.model,
    pod: last.pod,
    dataParallelRank: last.dataParallelRank,
    seq: last.seq,
    firstSeq: first.firstSeq ?? first.seq,
    tsSeconds: last.tsSeconds,
    events: batches.flatMap((b) => b.events),
    receivedUnixMs: first.receivedUnixMs,
    replayed: false,
    batchEventCounts: batches.flatMap((b) =>
      b.batchEventCounts.length > 0 ? b.batchEventCounts : [b.events.length],
    ),
  });
}

function engineKey(b: KvEventBatch): string {
  return `${b.model}\n${b.pod}\n${b.dataParallelRank}`;
}

/** AllBlocksCleared and PodReset change what every later event means: never merged. */
function standsAlone(b: KvEventBatch): boolean {
  return b.events.some((e) => e.event.case === "allBlocksCleared" || e.event.case === "podReset");
}

/**
 * A prefill's store: a chain at the root, or more than one block in one event (vLLM emits one BlockStored
 * per request per step; a decode step fills at most one block of a sequence). Without the second case a
 * new prompt behind a shared system prompt (a child chain) would wait the linger, and a scorer could send
 * its next request elsewhere in the meantime.
 */
function storesPrefill(b: KvEventBatch): boolean {
  return b.events.some(
    (e) =>
      e.event.case === "blockStored" &&
      (e.event.value.parentBlockHash === undefined || e.event.value.blockHashes.length > 1),
  );
}

function blocksOf(b: KvEventBatch): number {
  let n = 0;
  for (const e of b.events)
    if (e.event.case === "blockStored" || e.event.case === "blockRemoved")
      n += e.event.value.blockHashes.length;
  return n;
}
