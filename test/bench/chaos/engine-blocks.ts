import { decodeKvEventBatch } from "@inferd/kv-blocks";
import { Subscriber } from "zeromq";

/** What one engine holds by its own account: engine hash (16 hex digits) -> copies. */
export type BlockSet = Map<string, number>;

const hex = (h: bigint) => h.toString(16).padStart(16, "0");

/**
 * Applies one decoded batch to an engine's block set: the ground truth kv-index must converge to.
 * Pure. Copies are counted per stored event (GPU and CPU tiers alike), as the index counts them.
 */
export function applyBatch(set: BlockSet, batch: ReturnType<typeof decodeKvEventBatch>): void {
  for (const ev of batch.events) {
    if (ev.type === "BlockStored") {
      for (const h of ev.blockHashes) set.set(hex(h), (set.get(hex(h)) ?? 0) + 1);
    } else if (ev.type === "BlockRemoved") {
      for (const h of ev.blockHashes) {
        const n = (set.get(hex(h)) ?? 0) - 1;
        if (n > 0) set.set(hex(h), n);
        else set.delete(hex(h));
      }
    } else if (ev.type === "AllBlocksCleared") {
      set.clear();
    }
  }
}

/**
 * An independent witness of every simulated engine: one ZeroMQ SUB per engine PUB (as kv-index
 * connects), building each engine's block set from its own events. Sequence gaps (PUB drops at its
 * high-water mark, or a subscription that joined late) are counted, so a comparison made on a
 * gapped witness is known to be unreliable.
 */
export class EngineBlocks {
  readonly sets = new Map<string, BlockSet>();
  readonly gaps = new Map<string, number>();
  readonly batches = new Map<string, number>();
  readonly #sockets: Subscriber[] = [];
  readonly #done: Promise<void>[] = [];

  constructor(engines: readonly { pod: string; kvEvents: string }[]) {
    for (const { pod, kvEvents } of engines) {
      const socket = new Subscriber({ receiveHighWaterMark: 0 });
      socket.subscribe();
      socket.connect(kvEvents);
      this.#sockets.push(socket);
      this.sets.set(pod, new Map());
      this.gaps.set(pod, 0);
      this.batches.set(pod, 0);
      this.#done.push(this.#pump(pod, socket));
    }
  }

  async #pump(pod: string, socket: Subscriber): Promise<void> {
    let next: bigint | undefined;
    try {
      for await (const frames of socket) {
        const [, seqFrame, payload] = frames;
        if (!seqFrame || !payload) continue;
        const seq = seqFrame.readBigUInt64BE(0);
        // The first batch seen must be the engine's first (seq 0): engines start empty, and the
        // witness connects before any load. Seq 0 again is the engine restarted (killed): it
        // starts a new, empty life.
        if (seq === 0n && next !== undefined) this.sets.get(pod)!.clear();
        else if (seq !== (next ?? 0n)) this.gaps.set(pod, this.gaps.get(pod)! + 1);
        next = seq + 1n;
        applyBatch(this.sets.get(pod)!, decodeKvEventBatch(payload));
        this.batches.set(pod, this.batches.get(pod)! + 1);
      }
    } catch {
      // closed
    }
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.close();
    await Promise.all(this.#done);
  }
}
