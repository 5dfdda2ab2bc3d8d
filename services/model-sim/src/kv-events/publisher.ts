import {
  type EncodableEvent,
  type EncodeOptions,
  type EventEncoding,
  encodeKvEventBatch,
  encodeSeq,
  replayBatchFrames,
  replayEndFrames,
  type VllmRules,
  vllmRules,
} from "@inferd/kv-blocks";
import { Publisher, Router } from "zeromq";
import type { KvCacheEvent } from "../engine/types.ts";
import { type KvEventsConfig, shouldBind } from "./config.ts";

export interface KvEventPublisherOptions {
  readonly config: KvEventsConfig;
  /** PUB endpoint after DP/fleet port offsets. */
  readonly endpoint: string;
  readonly replayEndpoint: string | null;
  readonly topic: string;
  /** The vLLM version emulated: which fields events carry, replay frames. */
  readonly vllmVersion?: string;
  /** Event form (default: the version's). */
  readonly encoding?: EventEncoding;
  readonly dataParallelRank: number;
  /** false = raw digest bytes (vLLM with VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0). */
  readonly intHashes: boolean;
  readonly onError?: (err: Error) => void;
}

/** Engine events -> the fields vLLM's BlockPool fills (one KV-cache group, full attention, GPU). */
export function toEncodableEvents(events: readonly KvCacheEvent[], intHashes: boolean): EncodableEvent[] {
  const h = (x: { digest: Uint8Array; ext: bigint }) => (intHashes ? x.ext : x.digest);
  return events.map((e): EncodableEvent => {
    if (e.type === "BlockStored") {
      return {
        type: "BlockStored",
        blockHashes: e.blockHashes.map(h),
        parentBlockHash: e.parentBlockHash ? h(e.parentBlockHash) : null,
        tokenIds: e.tokenIds,
        blockSize: e.blockSize,
        loraId: e.loraId,
        medium: e.medium,
        loraName: e.loraName,
        extraKeys: e.blockHashes.map((b) => b.extraKeys),
        groupIdx: 0,
        kvCacheSpecKind: "full_attention",
      };
    }
    if (e.type === "BlockRemoved")
      return { type: "BlockRemoved", blockHashes: e.blockHashes.map(h), medium: e.medium, groupIdx: 0 };
    return { type: "AllBlocksCleared" };
  });
}

/**
 * vLLM's ZmqEventPublisher: PUB socket (bind when the endpoint is wildcard/ipc/inproc, else connect),
 * frames `[topic, seq (8-byte BE, from 0 per process), msgpack batch]`, the last `buffer_steps` batches
 * kept for the ROUTER replay socket. Replay replies carry the topic frame since vLLM 0.26 (the end
 * marker's topic frame is empty), not before.
 */
export class KvEventPublisher {
  readonly endpoint: string;
  readonly replayEndpoint: string | null;
  readonly topic: string;
  private readonly opts: KvEventPublisherOptions;
  private readonly pub: Publisher;
  private readonly router: Router | null;
  private readonly topicFrame: Buffer;
  private readonly buffer: { seq: bigint; payload: Uint8Array }[] = [];
  private readonly rules: VllmRules;
  private readonly encodeOptions: EncodeOptions;
  private seq = 0n;
  private sending: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(opts: KvEventPublisherOptions, pub: Publisher, router: Router | null) {
    this.opts = opts;
    this.endpoint = opts.endpoint;
    this.replayEndpoint = opts.replayEndpoint;
    this.topic = opts.topic;
    this.topicFrame = Buffer.from(opts.topic, "utf8");
    this.rules = vllmRules(opts.vllmVersion);
    // The version's fields; an explicit encoding overrides its form (emulating a patched engine).
    this.encodeOptions =
      opts.encoding === undefined || opts.encoding === this.rules.eventForm
        ? { vllmVersion: this.rules.version }
        : { encoding: opts.encoding };
    this.pub = pub;
    this.router = router;
  }

  static async start(opts: KvEventPublisherOptions): Promise<KvEventPublisher> {
    const pub = new Publisher({ sendHighWaterMark: opts.config.hwm, linger: 0 });
    let router: Router | null = null;
    try {
      if (shouldBind(opts.endpoint)) await pub.bind(opts.endpoint);
      else pub.connect(opts.endpoint);
      if (opts.replayEndpoint) {
        router = new Router({ linger: 0 });
        await router.bind(opts.replayEndpoint);
      }
    } catch (err) {
      pub.close();
      router?.close();
      throw new Error(`KV events: cannot open ${opts.endpoint}: ${(err as Error).message}`);
    }
    const p = new KvEventPublisher(opts, pub, router);
    if (router) void p.serveReplay(router);
    return p;
  }

  /** Number of batches published so far (the next seq). */
  get published(): bigint {
    return this.seq;
  }

  /** Publishes one batch (one engine step). Sends are serialised; PUB drops at HWM as in vLLM. */
  publish(events: readonly KvCacheEvent[], tsSeconds: number): void {
    if (this.closed || events.length === 0) return;
    const payload = encodeKvEventBatch(
      {
        ts: tsSeconds,
        events: toEncodableEvents(events, this.opts.intHashes),
        dataParallelRank: this.opts.dataParallelRank,
      },
      this.encodeOptions,
    );
    const seq = this.seq++;
    // Only a replay socket can read the buffer; without one, keeping 10k batches would only cost memory.
    if (this.router && this.opts.config.bufferSteps > 0) {
      this.buffer.push({ seq, payload });
      if (this.buffer.length > this.opts.config.bufferSteps) this.buffer.shift();
    }
    const frames = [this.topicFrame, encodeSeq(seq), payload];
    this.sending = this.sending
      .then(() => (this.closed ? undefined : this.pub.send(frames)))
      .catch((err: Error) => {
        if (!this.closed) this.opts.onError?.(err);
      });
  }

  /** Resolves when every queued batch has been handed to ZeroMQ. */
  async flush(): Promise<void> {
    await this.sending;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.pub.close();
    this.router?.close();
  }

  private async serveReplay(router: Router): Promise<void> {
    const withTopic = this.rules.replayTopicFrame;
    try {
      for await (const frames of router) {
        if (frames.length !== 3) continue; // vLLM: "Invalid replay request", ignored
        const [client, , startFrame] = frames as [Buffer, Buffer, Buffer];
        if (startFrame.length !== 8) continue;
        const start = startFrame.readBigUInt64BE(0);
        const empty = Buffer.alloc(0);
        for (const { seq, payload } of [...this.buffer]) {
          if (seq < start) continue;
          await router.send([client, empty, ...replayBatchFrames(withTopic, this.topicFrame, seq, payload)]);
        }
        // vLLM >= 0.26 ends with [b"", b"", END_SEQ, b""]: the end marker's topic frame is empty.
        await router.send([client, empty, ...replayEndFrames(withTopic)]);
      }
    } catch (err) {
      if (!this.closed) this.opts.onError?.(err as Error);
    }
  }
}
