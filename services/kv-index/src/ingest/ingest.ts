import { engineId } from "@inferd/block-index";
import {
  type DecodedBatch,
  decodeKvEventBatch,
  decodeSeq,
  MalformedKvEventError,
  parseTopic,
  toProtoBatch,
} from "@inferd/kv-blocks";
import { type KvEventBatch, KvEventBatchSchema, make } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import { type KvIndexMetrics, labelChildren } from "../metrics.ts";
import { judgeSeq } from "./sequence-tracker.ts";

/** One ZeroMQ message `[topic, seq, payload]` as received. */
export interface RawKvMessage {
  topic: Uint8Array;
  seq: Uint8Array;
  payload: Uint8Array;
  /**
   * The inventory endpoint the socket is connected to (connect mode). Names the pod and model
   * when the engine publishes with vLLM's default empty topic.
   */
  source?: { model: string; pod: string };
}

/** One batch returned by a replay request. */
export interface ReplayedFrame {
  seq: bigint;
  payload: Uint8Array;
}

export interface IngestDeps {
  /** Publishes in call order (the publisher keeps order per connection). */
  publish(batch: KvEventBatch, msgId: string): void;
  /**
   * Asks the engine to replay batches from `fromSeq`. Resolves to null when no replay endpoint
   * is known for the engine; rejects when the request failed.
   */
  replay(model: string, pod: string, rank: number, fromSeq: bigint): Promise<ReplayedFrame[] | null>;
  logger: Logger;
  metrics: KvIndexMetrics;
  now?: () => number;
}

export interface IngestOptions {
  /**
   * On the first batch seen from an engine whose seq is above 0 (kv-index started after the
   * engine), replay from 0 to learn the blocks stored before (default true). The indexer drops
   * batches it already applied, so this is safe after a kv-index restart.
   */
  replayOnFirstSight?: boolean;
  /**
   * After a gap replay could not fill: "keep" the engine's entries (default; the index may miss
   * or keep a few blocks until they are stored or evicted again) or "reset" them (PodReset
   * replay_failed: the engine then only counts blocks stored from now on).
   */
  onUnrepairedGap?: "keep" | "reset";
  /** Malformed payloads are logged at most once per pod per this period (default 60 s). */
  malformedLogIntervalMs?: number;
  /**
   * Requests of a replay that fills a gap or learns an engine first seen above seq 0, before it
   * is given up (default 3). A reply lost to a stalled engine or a starved process would
   * otherwise lose those batches for good: they can only be published before the later ones.
   */
  replayAttempts?: number;
}

/** In bind mode, an engine is checked after a reconnection at most once per this period. */
const BROAD_CHECK_INTERVAL_MS = 10_000;

interface Pending {
  seq: bigint;
  batch: DecodedBatch;
  receivedMs: number;
}

interface EngineState {
  model: string;
  pod: string;
  rank: number;
  last: bigint | undefined;
  /** Engine timestamp of batch `last`: tells a restarted engine from a gap (see #replay). */
  lastTs: number | undefined;
  replaying: boolean;
  /**
   * The connection to the engine was re-established (it may have restarted): the next batch is
   * checked against the engine's replay buffer, whatever its sequence number says.
   */
  suspect: boolean;
  /** Replay requests that failed in a row. */
  failedChecks: number;
  /** When the engine was last marked for a check (ms). */
  checkedAtMs: number;
  /** Live batches held while a replay for this engine runs, in arrival order. */
  held: Pending[];
}

/** Most distinct senders whose malformed messages are logged per interval. */
const MALFORMED_LOG_SOURCES = 1024;

/**
 * Ingest: vLLM ZeroMQ messages in, normalised KvEventBatch out, per engine (pod, DP rank) in
 * sequence order. Gaps are repaired by replay, backwards sequences become a PodReset,
 * duplicates and malformed payloads are skipped. No I/O: publishing and replay are injected.
 */
export class Ingest {
  readonly #deps: IngestDeps;
  readonly #options: Required<IngestOptions>;
  readonly #engines = new Map<string, EngineState>();
  readonly #malformedLoggedAt = new Map<string, number>();
  readonly #replays = new Set<Promise<void>>();
  /** Counters touched per batch, their label children looked up once (see labelChildren). */
  readonly #eventsOf: (type: string) => { inc(value?: number): void };
  readonly #blocksOf: (type: string) => { inc(value?: number): void };
  readonly #batchesOf: (result: string) => { inc(value?: number): void };

  constructor(deps: IngestDeps, options: IngestOptions = {}) {
    this.#deps = deps;
    this.#eventsOf = labelChildren(deps.metrics.ingestEvents, "type");
    this.#blocksOf = labelChildren(deps.metrics.ingestBlocks, "type");
    this.#batchesOf = labelChildren(deps.metrics.ingestBatches, "result");
    this.#options = {
      replayOnFirstSight: options.replayOnFirstSight ?? true,
      onUnrepairedGap: options.onUnrepairedGap ?? "keep",
      malformedLogIntervalMs: options.malformedLogIntervalMs ?? 60_000,
      replayAttempts: Math.max(1, options.replayAttempts ?? 3),
    };
  }

  /** Handles the frames of one ZeroMQ message; anything but 3 frames is malformed. */
  handleFrames(frames: readonly Uint8Array[], source?: { model: string; pod: string }): void {
    if (frames.length !== 3) {
      const where =
        source?.pod ?? (frames[0] ? new TextDecoder().decode(frames[0]).slice(0, 80) : "<no frames>");
      this.#malformed(where, new Error(`expected 3 frames [topic, seq, payload], got ${frames.length}`));
      return;
    }
    const [topic, seq, payload] = frames as [Uint8Array, Uint8Array, Uint8Array];
    try {
      this.handle(source ? { topic, seq, payload, source } : { topic, seq, payload });
    } catch (err) {
      // handle() validates what it can; anything it missed is still one bad message, never
      // the end of the socket's receive loop.
      this.#malformed(source?.pod ?? "<unparsed>", err);
    }
  }

  /** Handles one live message. Never throws: bad input is counted, logged and skipped. */
  handle(msg: RawKvMessage): void {
    const receivedMs = this.#now();
    let model: string;
    let pod: string;
    try {
      ({ model, pod } = msg.topic.length === 0 && msg.source ? msg.source : parseTopic(msg.topic));
    } catch (err) {
      if (!msg.source) {
        this.#malformed(new TextDecoder().decode(msg.topic).slice(0, 80) || "<empty topic>", err);
        return;
      }
      ({ model, pod } = msg.source);
    }
    let seq: bigint;
    let batch: DecodedBatch;
    try {
      seq = decodeSeq(msg.seq);
      batch = decodeKvEventBatch(msg.payload);
    } catch (err) {
      this.#malformed(pod, err);
      return;
    }
    const rank = batch.dataParallelRank ?? 0;
    const state = this.#engine(model, pod, rank);
    this.#deps.metrics.ingestLag.observe(Math.max(0, receivedMs / 1000 - batch.ts));
    const item = { seq, batch, receivedMs };
    if (state.replaying) state.held.push(item);
    else this.#sequence(state, item);
  }

  /**
   * Learns what an engine published before this process could hear it, without waiting for its
   * next batch: asks its replay socket for everything from seq 0 and publishes it (the indexer drops
   * what it already applied). Called when a SUB connects to an inventory endpoint, so a restarted
   * kv-index converges even for engines that stay idle. A live batch arriving meanwhile is held and
   * sequenced after the replayed ones. No-op for an engine already seen.
   */
  catchUp(model: string, pod: string, rank = 0): Promise<void> {
    const state = this.#engine(model, pod, rank);
    if (state.last !== undefined || state.replaying) return Promise.resolve();
    state.replaying = true;
    const run = this.#catchUp(state).finally(() => this.#replays.delete(run));
    this.#replays.add(run);
    return run;
  }

  async #catchUp(state: EngineState): Promise<void> {
    let frames: ReplayedFrame[] | null;
    let failed = false;
    try {
      frames = await this.#deps.replay(state.model, state.pod, state.rank, 0n);
    } catch (err) {
      this.#deps.logger.debug(
        { model: state.model, pod: state.pod, rank: state.rank, err: (err as Error).message },
        "catch-up replay failed; the engine's next batch triggers one",
      );
      frames = [];
      failed = true;
    }
    for (const frame of frames ?? []) {
      if (state.last !== undefined && frame.seq <= state.last) continue;
      try {
        const batch = decodeKvEventBatch(frame.payload);
        this.#deps.metrics.replayedBatches.inc();
        this.#publish(state, { seq: frame.seq, batch, receivedMs: this.#now() }, true);
      } catch (err) {
        this.#malformed(state.pod, err);
      }
    }
    this.#deps.metrics.replays.inc({
      result: frames === null ? "unavailable" : failed ? "failed" : "caught_up",
    });
    // Live batches held meanwhile that the replay already published (same seq, same engine life:
    // timestamp not later) are duplicates, not a sequence going backwards.
    const last = state.last;
    const lastTs = state.lastTs;
    if (last !== undefined && lastTs !== undefined) {
      state.held = state.held.filter((h) => {
        const seen = h.seq <= last && h.batch.ts <= lastTs;
        if (seen) this.#deps.metrics.ingestBatches.inc({ result: "duplicate" });
        return !seen;
      });
    }
    this.#resume(state, state.last);
  }

  /** Forgets the sequence state of a pod (it left the inventory). */
  forgetPod(model: string, pod: string): void {
    for (const [key, state] of this.#engines) {
      if (state.model === model && state.pod === pod) this.#engines.delete(key);
    }
  }

  /** Resolves when every replay in progress has finished (for shutdown and tests). */
  async settled(): Promise<void> {
    while (this.#replays.size > 0) await Promise.all([...this.#replays]);
  }

  /**
   * Marks engines (all, or those of one pod) as possibly restarted: ZeroMQ re-established a
   * connection. A restarted engine whose first batch seen happens to carry the old seq + 1 would
   * otherwise pass for the same engine.
   */
  suspect(model?: string, pod?: string): void {
    const now = this.#now();
    for (const state of this.#engines.values()) {
      if ((model === undefined || state.model === model) && (pod === undefined || state.pod === pod)) {
        // Bind mode cannot tell which engine reconnected, so every engine is checked; when many
        // engines (re)connect at once, each is checked once per period, not once per connection.
        if (pod === undefined && now - state.checkedAtMs < BROAD_CHECK_INTERVAL_MS) continue;
        state.checkedAtMs = now;
        state.suspect = true;
        this.#deps.logger.debug(
          { model: state.model, pod: state.pod, rank: state.rank },
          "engine reconnected: next batch is checked",
        );
      }
    }
  }

  #sequence(state: EngineState, item: Pending): void {
    const verdict = judgeSeq(state.last, item.seq);
    if (state.suspect && (verdict.kind === "next" || verdict.kind === "duplicate")) {
      state.suspect = false;
      if (state.last !== undefined && state.lastTs !== undefined) {
        this.#startReplay(state, state.last + 1n, item, "verify");
        return;
      }
    }
    if (verdict.kind !== "next" && verdict.kind !== "duplicate") state.suspect = false;
    switch (verdict.kind) {
      case "next":
        this.#publish(state, item, false);
        return;
      case "duplicate":
        this.#deps.metrics.ingestBatches.inc({ result: "duplicate" });
        return;
      case "first":
        if (verdict.missed && this.#options.replayOnFirstSight) this.#startReplay(state, 0n, item, "first");
        else this.#publish(state, item, false);
        return;
      case "gap":
        this.#deps.metrics.gaps.inc();
        this.#deps.logger.warn(
          {
            model: state.model,
            pod: state.pod,
            rank: state.rank,
            from: String(verdict.from),
            to: String(item.seq),
          },
          "kv event sequence gap; replaying",
        );
        this.#startReplay(state, verdict.from, item, "gap");
        return;
      case "restart":
        this.#deps.metrics.engineRestarts.inc();
        this.#deps.logger.warn(
          {
            model: state.model,
            pod: state.pod,
            rank: state.rank,
            previous: String(verdict.previous),
            seq: String(item.seq),
          },
          "kv event sequence went backwards: engine restarted; clearing its entries",
        );
        this.#publishReset(state, "engine_restarted", item);
        state.last = undefined;
        state.lastTs = undefined;
        this.#sequence(state, item);
        return;
    }
  }

  #startReplay(state: EngineState, from: bigint, item: Pending, why: "first" | "gap" | "verify"): void {
    state.replaying = true;
    state.held = [item];
    const run = this.#replay(state, from, item, why).finally(() => this.#replays.delete(run));
    this.#replays.add(run);
  }

  async #replay(
    state: EngineState,
    from: bigint,
    item: Pending,
    why: "first" | "gap" | "verify",
  ): Promise<void> {
    const isGap = why === "gap";
    const { metrics, logger } = this.#deps;
    let restarted = false;
    let frames: ReplayedFrame[] | null;
    let failure: Error | undefined;
    // On a gap, ask from the last batch seen (one more than needed): if the engine's copy of it
    // has another timestamp, the engine restarted and already passed our old sequence number
    // (a forward jump that is not a gap). Then its whole new life is replayed from 0.
    const verify =
      why !== "first" && state.last !== undefined && state.lastTs !== undefined
        ? { seq: state.last, ts: state.lastTs }
        : undefined;
    // A failed check is checked again with the next batch (see below); a failed gap or first-sight
    // replay is asked again at once, holding the live batches, or its batches are lost for good.
    const attempts = why === "verify" ? 1 : this.#options.replayAttempts;
    try {
      frames = await this.#request(state, verify ? verify.seq : from, attempts, why);
      const seen = verify ? frames?.find((f) => f.seq === verify.seq) : undefined;
      if (verify && seen && this.#tsOf(seen) !== verify.ts) {
        metrics.engineRestarts.inc();
        logger.warn(
          {
            model: state.model,
            pod: state.pod,
            rank: state.rank,
            previous: String(verify.seq),
            seq: String(item.seq),
          },
          "engine restarted (replayed batch differs from the one seen); clearing its entries",
        );
        this.#publishReset(state, "engine_restarted", item);
        restarted = true;
        from = 0n;
        frames = await this.#request(state, from, attempts, why);
      }
    } catch (err) {
      frames = [];
      failure = err as Error;
    }
    // Everything before `item` that the replay returned, in order, each seq once.
    let next = from;
    const recovered: Pending[] = [];
    for (const frame of frames ?? []) {
      if (frame.seq < next || frame.seq >= item.seq) continue;
      try {
        recovered.push({ seq: frame.seq, batch: decodeKvEventBatch(frame.payload), receivedMs: this.#now() });
      } catch (err) {
        this.#malformed(state.pod, err);
      }
      next = frame.seq + 1n;
    }
    // A failed check proves nothing: check again with the next batch (a few times only, so a
    // dead replay socket cannot stall the engine's events for long).
    if (failure && why !== "first" && state.failedChecks++ < 3) state.suspect = true;
    if (!failure) state.failedChecks = 0;
    if (why === "verify" && !restarted) {
      logger.debug(
        {
          model: state.model,
          pod: state.pod,
          rank: state.rank,
          last: String(state.last),
          checked: !!verify && !failure,
        },
        "engine checked after reconnection: same engine",
      );
      // Same engine life (or it could not be checked): carry on as if nothing happened.
      metrics.replays.inc({ result: frames === null ? "unavailable" : failure ? "failed" : "verified" });
      this.#resume(state, state.last);
      return;
    }
    const complete = recovered.length === Number(item.seq - from) && next === item.seq;
    const result = frames === null ? "unavailable" : failure ? "failed" : complete ? "repaired" : "partial";
    metrics.replays.inc({ result });
    if (isGap && !complete) {
      logger.warn(
        { model: state.model, pod: state.pod, rank: state.rank, result, err: failure?.message },
        "kv event gap not fully repaired by replay",
      );
      if (this.#options.onUnrepairedGap === "reset") this.#publishReset(state, "replay_failed", item);
    }
    if (why === "first" && failure) {
      logger.warn(
        { model: state.model, pod: state.pod, rank: state.rank, err: failure.message },
        "kv events published before the engine was first seen could not be replayed; its older blocks stay unknown",
      );
    }
    for (const r of recovered) {
      metrics.replayedBatches.inc();
      this.#publish(state, r, true);
    }
    this.#resume(state, item.seq - 1n);
  }

  /** One replay request, asked again up to `attempts` times in all when it fails. */
  async #request(
    state: EngineState,
    from: bigint,
    attempts: number,
    why: "first" | "gap" | "verify",
  ): Promise<ReplayedFrame[] | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#deps.replay(state.model, state.pod, state.rank, from);
      } catch (err) {
        if (attempt >= attempts) throw err;
        this.#deps.logger.warn(
          { model: state.model, pod: state.pod, rank: state.rank, why, attempt, err: (err as Error).message },
          "kv event replay failed; asking again",
        );
      }
    }
  }

  /** Ends a replay: sequencing continues after `last` with the batches held meanwhile. */
  #resume(state: EngineState, last: bigint | undefined): void {
    state.last = last;
    state.replaying = false;
    const held = state.held;
    state.held = [];
    for (const h of held) {
      if (state.replaying) state.held.push(h);
      else this.#sequence(state, h);
    }
  }

  #tsOf(frame: ReplayedFrame): number | undefined {
    try {
      return decodeKvEventBatch(frame.payload).ts;
    } catch {
      return undefined;
    }
  }

  #publish(state: EngineState, item: Pending, replayed: boolean): void {
    state.last = item.seq;
    state.lastTs = item.batch.ts;
    const proto = toProtoBatch(item.batch, {
      model: state.model,
      pod: state.pod,
      seq: item.seq,
      receivedUnixMs: item.receivedMs,
      replayed,
    });
    let stored = 0;
    let removed = 0;
    for (const e of item.batch.events) {
      this.#eventsOf(e.type === "Unknown" ? `Unknown:${e.tag}`.slice(0, 40) : e.type).inc();
      if (e.type === "BlockStored") stored += e.blockHashes.length;
      else if (e.type === "BlockRemoved") removed += e.blockHashes.length;
    }
    if (stored > 0) this.#blocksOf("stored").inc(stored);
    if (removed > 0) this.#blocksOf("removed").inc(removed);
    try {
      this.#deps.publish(proto, batchMsgId(state.model, state.pod, state.rank, item.seq, item.batch.ts));
    } catch (err) {
      // The decoder bounds every field; should a value still not encode, it is one bad batch
      // (counted and skipped), never an unhandled rejection in a replay path.
      this.#malformed(state.pod, err);
      return;
    }
    this.#batchesOf("published").inc();
  }

  #publishReset(state: EngineState, reason: string, item: Pending): void {
    const batch = make(KvEventBatchSchema, {
      model: state.model,
      pod: state.pod,
      dataParallelRank: state.rank,
      seq: item.seq,
      tsSeconds: item.batch.ts,
      events: [{ event: { case: "podReset", value: { reason } } }],
      receivedUnixMs: BigInt(Math.trunc(item.receivedMs)),
    });
    this.#deps.publish(
      batch,
      `reset.${reason}.${batchMsgId(state.model, state.pod, state.rank, item.seq, item.batch.ts)}`,
    );
  }

  #engine(model: string, pod: string, rank: number): EngineState {
    const key = `${model}\n${engineId(pod, rank)}`;
    let state = this.#engines.get(key);
    if (!state) {
      state = {
        model,
        pod,
        rank,
        last: undefined,
        lastTs: undefined,
        replaying: false,
        suspect: false,
        failedChecks: 0,
        checkedAtMs: Number.NEGATIVE_INFINITY,
        held: [],
      };
      this.#engines.set(key, state);
    }
    return state;
  }

  #malformed(pod: string, err: unknown): void {
    this.#deps.metrics.malformed.inc({ stage: "ingest" });
    this.#deps.metrics.ingestBatches.inc({ result: "malformed" });
    const now = this.#now();
    const last = this.#malformedLoggedAt.get(pod);
    if (last !== undefined && now - last < this.#options.malformedLogIntervalMs) return;
    // A sender of garbage topics must not grow this map without bound: past the cap, expired
    // entries are dropped, and while it is still full new senders are only counted.
    if (last === undefined && this.#malformedLoggedAt.size >= MALFORMED_LOG_SOURCES) {
      for (const [k, at] of this.#malformedLoggedAt)
        if (now - at >= this.#options.malformedLogIntervalMs) this.#malformedLoggedAt.delete(k);
      if (this.#malformedLoggedAt.size >= MALFORMED_LOG_SOURCES) return;
    }
    this.#malformedLoggedAt.set(pod, now);
    const message = err instanceof MalformedKvEventError || err instanceof Error ? err.message : String(err);
    this.#deps.logger.warn(
      { pod, err: message },
      "malformed kv event message skipped (further ones from this pod are counted, logged again in a minute)",
    );
  }

  #now(): number {
    return this.#deps.now ? this.#deps.now() : Date.now();
  }
}

/**
 * Nats-Msg-Id of a batch. The engine timestamp is part of it: a restarted engine reuses
 * sequence numbers from 0, and its new batches must not be dropped as duplicates of the old ones.
 */
export function batchMsgId(model: string, pod: string, rank: number, seq: bigint, ts: number): string {
  return `${encodeURIComponent(model)}|${encodeURIComponent(pod)}|${rank}|${seq}|${ts}`;
}
