import {
  END_SEQ,
  type EncodableEvent,
  EngineBlockHasher,
  type EventEncoding,
  encodeKvEventBatch,
  encodeSeq,
  formatTopic,
} from "@inferd/kv-blocks";
import { freePort, waitFor } from "@inferd/testkit";
import { Publisher, Router } from "zeromq";

export interface FakeEngineOptions {
  pod: string;
  model: string;
  encoding?: EventEncoding;
  /** Replay replies carry the topic frame (vLLM v0.26+) or not (older). */
  replayWithTopic?: boolean;
  rank?: number;
  blockSize?: number;
  /** Connect the PUB to this endpoint (kv-index in bind mode) instead of binding it. */
  connectTo?: string;
  /** Reuse ports (a restarted engine). */
  pubPort?: number;
  replayPort?: number;
  /** The first this many replay requests get no reply (a stalled engine, a starved process). */
  unansweredReplays?: number;
}

/**
 * A minimal vLLM KV-event producer for tests: a PUB socket and a ROUTER replay socket speaking
 * vLLM's wire format (through kv-blocks' encoder), and a prefix cache of engine hashes with
 * copy counts. `drop` sends a batch to the replay buffer only (a forced gap).
 */
export class FakeEngine {
  readonly options: Required<FakeEngineOptions>;
  readonly cached = new Map<bigint, number>();
  #pub: Publisher;
  #router: Router;
  #seq = 0n;
  #buffer: [bigint, Uint8Array][] = [];
  #hasher: EngineBlockHasher;
  #lastTs = 0;
  #serving: Promise<void>;
  #unanswered: number;

  private constructor(options: Required<FakeEngineOptions>, pub: Publisher, router: Router) {
    this.options = options;
    this.#pub = pub;
    this.#router = router;
    this.#hasher = new EngineBlockHasher({ algo: "sha256_cbor", seed: "0" });
    this.#unanswered = options.unansweredReplays;
    this.#serving = this.#serveReplay();
  }

  static async start(opts: FakeEngineOptions): Promise<FakeEngine> {
    const options: Required<FakeEngineOptions> = {
      encoding: "array",
      replayWithTopic: false,
      rank: 0,
      blockSize: 16,
      pubPort: opts.pubPort ?? (await freePort()),
      replayPort: opts.replayPort ?? (await freePort()),
      connectTo: "",
      unansweredReplays: 0,
      ...opts,
    } as Required<FakeEngineOptions>;
    const pub = new Publisher({ linger: 0 });
    if (options.connectTo) pub.connect(options.connectTo);
    else await bindWithRetry(pub, `tcp://127.0.0.1:${options.pubPort}`);
    const router = new Router({ linger: 0 });
    await bindWithRetry(router, `tcp://127.0.0.1:${options.replayPort}`);
    return new FakeEngine(options, pub, router);
  }

  get pubEndpoint(): string {
    return `tcp://127.0.0.1:${this.options.pubPort}`;
  }
  get replayEndpoint(): string {
    return `tcp://127.0.0.1:${this.options.replayPort}`;
  }
  get seq(): bigint {
    return this.#seq;
  }

  /** Engine hashes of the full blocks of `tokens` (chain from the root). */
  hashes(tokens: number[]): bigint[] {
    return this.#hasher.blockHashes(tokens, { blockSize: this.options.blockSize }).map((h) => h.hash);
  }

  /**
   * Caches every full block of `tokens` not cached yet (as vLLM: one BlockStored for the new
   * tail, parent = last cached block), or `copies` times for duplicate physical copies.
   */
  async store(tokens: number[], opts: { drop?: boolean; medium?: string } = {}): Promise<bigint[]> {
    const hashes = this.hashes(tokens);
    const bs = this.options.blockSize;
    let first = 0;
    while (first < hashes.length && this.cached.has(hashes[first]!)) first++;
    if (first === hashes.length) return hashes;
    const fresh = hashes.slice(first);
    for (const h of fresh) this.cached.set(h, (this.cached.get(h) ?? 0) + 1);
    await this.send(
      [
        {
          type: "BlockStored",
          blockHashes: fresh,
          parentBlockHash: first > 0 ? hashes[first - 1]! : null,
          tokenIds: tokens.slice(first * bs, hashes.length * bs),
          blockSize: bs,
          medium: opts.medium ?? "GPU",
        },
      ],
      opts,
    );
    return hashes;
  }

  async evict(hashes: bigint[], opts: { drop?: boolean } = {}): Promise<void> {
    for (const h of hashes) {
      const n = this.cached.get(h) ?? 0;
      if (n <= 1) this.cached.delete(h);
      else this.cached.set(h, n - 1);
    }
    await this.send(
      hashes.map((h) => ({ type: "BlockRemoved", blockHashes: [h], medium: "GPU" }) as EncodableEvent),
      opts,
    );
  }

  async clearAll(): Promise<void> {
    this.cached.clear();
    await this.send([{ type: "AllBlocksCleared" }]);
  }

  async send(events: EncodableEvent[], opts: { drop?: boolean } = {}): Promise<void> {
    const payload = encodeKvEventBatch(
      { ts: this.#nextTs(), events, dataParallelRank: this.options.rank },
      { encoding: this.options.encoding },
    );
    const seq = this.#seq++;
    this.#buffer.push([seq, payload]);
    if (this.#buffer.length > 10_000) this.#buffer.shift();
    if (opts.drop) return;
    await this.#pub.send([formatTopic(this.options.pod, this.options.model), encodeSeq(seq), payload]);
  }

  /** Unbinds first, so a restarted engine can bind the same ports at once. */
  async close(): Promise<void> {
    if (this.#pub.closed) return;
    if (!this.options.connectTo) await this.#pub.unbind(this.pubEndpoint).catch(() => undefined);
    await this.#router.unbind(this.replayEndpoint).catch(() => undefined);
    this.#pub.close();
    this.#router.close();
    await this.#serving;
  }

  /** Wall-clock seconds as vLLM's time.time(), strictly increasing. */
  #nextTs(): number {
    this.#lastTs = Math.max(Date.now() / 1000, this.#lastTs + 0.000_001);
    return this.#lastTs;
  }

  async #serveReplay(): Promise<void> {
    const topic = Buffer.from(formatTopic(this.options.pod, this.options.model));
    const empty = Buffer.alloc(0);
    try {
      for await (const frames of this.#router) {
        if (frames.length !== 3) continue;
        const [client, , start] = frames as [Buffer, Buffer, Buffer];
        const from = start.readBigUInt64BE(0);
        if (this.#unanswered > 0) {
          this.#unanswered--;
          continue;
        }
        const head = this.options.replayWithTopic ? [client, empty, topic] : [client, empty];
        for (const [seq, payload] of this.#buffer) {
          if (seq >= from) await this.#router.send([...head, encodeSeq(seq), payload]);
        }
        await this.#router.send([...head, END_SEQ, empty]);
      }
    } catch {
      // closed
    }
  }
}

/** A port just released by a previous engine may take a moment to be free again. */
async function bindWithRetry(socket: Publisher | Router, endpoint: string): Promise<void> {
  await waitFor(
    async () => {
      await socket.bind(endpoint);
      return true;
    },
    { timeoutMs: 5_000, message: `bind ${endpoint}` },
  );
}
