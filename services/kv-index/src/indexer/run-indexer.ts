import { randomUUID } from "node:crypto";
import { type BlockIndex, Indexer, type RulesFor, StoreLostWritesError } from "@inferd/block-index";
import {
  AckedPublisher,
  AckPolicy,
  DeliverPolicy,
  decodeMessage,
  type JsMsg,
  jetStreamClient,
  jetstreamManager,
  type KV,
  messageHeaders,
  type NatsConnection,
  openKv,
} from "@inferd/bus";
import {
  decode,
  type Endpoint,
  EndpointSchema,
  encode,
  type KvEventBatch,
  KvEventBatchSchema,
  make,
  parseModelPod,
  type Subjects,
  subjects as subjectsOf,
} from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { BatchHandoff } from "../handoff.ts";
import type { KvIndexMetrics } from "../metrics.ts";
import { AckFloor, type AckSlot } from "./ack-floor.ts";
import { KeyedBatches } from "./pod-queues.ts";

export interface IndexerRunOptions {
  blockSize: number;
  /** vLLM rules per model pool (config vllmVersion / vllmVersions). */
  rulesFor?: RulesFor;
  /** Durable consumer name (persistent backends); one active indexer per name. */
  durableName: string;
  /** Only these models (empty = all): lets several indexers split the stream by model. */
  models?: string[];
  subjectPrefix?: string;
  /** Stream messages queued or being applied at most (default 4096). */
  maxPending?: number;
  /** How often a persistent store is checked for a lost generation marker (default 1000 ms). */
  generationCheckMs?: number;
  /** Publish PodReset(left_inventory) when an endpoint leaves INFERD_ENDPOINTS (default true). */
  purgeOnInventoryDelete?: boolean;
  /** Called for every endpoint put into INFERD_ENDPOINTS (e.g. to ask its vLLM version). */
  onEndpoint?: (endpoint: Endpoint) => void;
  /** Replicas of INFERD_ENDPOINTS when this creates or raises it (streamReplicas; default 1). */
  streamReplicas?: number;
  /** Applied messages acknowledged with one cumulative ack at the latest (default 256). */
  ackEvery?: number;
  /** Longest wait before applied messages are acknowledged (default 200 ms). */
  ackDelayMs?: number;
  /**
   * An idle pod's first delivered message waits this long before its index write starts, so
   * messages arriving meanwhile share the write (default 0: start at once). See KeyedBatches.
   */
  lingerMs?: number;
  /** The ingest of this process hands its published batches over (skips their decode; see BatchHandoff). */
  handoff?: BatchHandoff;
}

export interface RunningIndexer {
  indexer: Indexer;
  /** Stream messages not yet applied (pending in the consumer + queued here). */
  lag(): Promise<number>;
  stop(): Promise<void>;
}

type Consumer = Awaited<ReturnType<ReturnType<typeof jetStreamClient>["consumers"]["get"]>>;
type ConsumerMessages = Awaited<ReturnType<Consumer["consume"]>>;
interface Delivered {
  m: JsMsg;
  epoch: number;
  /** Persistent index only (an ordered consumer acknowledges nothing). */
  slot: AckSlot<JsMsg> | undefined;
}

/**
 * Feeds the index from INFERD_KV_EVENTS.
 *
 * - In-memory index: an ordered consumer from the first message; every process holds a full
 *   copy (read replicas), nothing to acknowledge.
 * - Persistent index (Redis): a durable consumer with cumulative acks (AckPolicy "all": one ack
 *   covers every message up to it; sent for the newest message all of whose predecessors are
 *   applied, after `ackEvery` of them or `ackDelayMs`, instead of one ack message per batch).
 *   A crash before an ack replays the unacknowledged messages; those applied already are
 *   skipped by the per-engine checkpoints. A generation marker in the
 *   store says the store still holds what the consumer acknowledged. When it is missing (first
 *   start, or Redis restarted empty) the index is reset and the durable consumer is recreated
 *   to deliver the stream from its start: the index is rebuilt from the stream.
 *
 * Messages are applied per pod in stream order (one queue per subject), pods in parallel.
 * A failing store is retried with back-off, holding only the affected pod's queue. A store that
 * lost writes it had acknowledged (Redis replicates asynchronously, so a failover can promote a
 * replica without the primary's last writes) is caught by the indexer's checkpoint chain — on
 * the next write of that engine, or by the periodic check — and the durable consumer restarts
 * at the oldest lost message: the replay writes back exactly what was lost.
 */
export async function startIndexer(
  nc: NatsConnection,
  index: BlockIndex,
  deps: { logger: Logger; metrics: KvIndexMetrics },
  options: IndexerRunOptions,
): Promise<RunningIndexer> {
  const logger = deps.logger.child({ part: "indexer" });
  const subjects: Subjects = subjectsOf(options.subjectPrefix);
  const indexer = new Indexer(
    index,
    { logger, metrics: deps.metrics },
    { blockSize: options.blockSize, rulesFor: options.rulesFor },
  );
  const js = jetStreamClient(nc);
  const jsm = await jetstreamManager(nc);
  let queues: KeyedBatches<Delivered>;
  const persistent = index.backend !== "memory";
  const filters =
    options.models && options.models.length > 0
      ? options.models.map((m) => subjects.kvEventsOfModel(m))
      : [subjects.kvEventsAll()];
  const maxPending = options.maxPending ?? 4096;
  let epoch = 0;
  let messages: ConsumerMessages | undefined;
  let consumer: Consumer | undefined;
  let loop: Promise<void> = Promise.resolve();
  let stopped = false;
  /** A rebuild or a consumer resync in progress (one at a time). */
  let rebuilding: Promise<void> | undefined;
  let lastErrorLog = 0;
  let acks = new AckFloor<JsMsg>();
  const ackEvery = options.ackEvery ?? 256;
  const ackDelayMs = options.ackDelayMs ?? 200;
  let ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sends the cumulative ack for what is applied so far (none when the floor did not move). */
  const flushAcks = () => {
    if (ackTimer) clearTimeout(ackTimer);
    ackTimer = undefined;
    acks.take()?.ack();
  };
  const applied = (slots: (AckSlot<JsMsg> | undefined)[]) => {
    if (!persistent) return;
    for (const slot of slots) if (slot) slot.applied = true;
    if (acks.ready >= ackEvery) flushAcks();
    else if (ackTimer === undefined && acks.unacked > 0) {
      ackTimer = setTimeout(flushAcks, ackDelayMs);
      ackTimer.unref();
    }
  };

  /** Applies consecutive messages of one pod; retries the store until it answers. */
  const applyChunk = async (chunk: Delivered[]) => {
    const live = chunk.filter((c) => c.epoch === epoch);
    const items: { batch: KvEventBatch; streamSeq: bigint; slot: AckSlot<JsMsg> | undefined }[] = [];
    const skipped: (AckSlot<JsMsg> | undefined)[] = [];
    for (const { m, slot } of live) {
      try {
        const batch = options.handoff?.take(m.seq, m.subject, m.data) ?? decodeMessage(m, KvEventBatchSchema);
        items.push({ batch, streamSeq: BigInt(m.seq), slot });
      } catch (err) {
        deps.metrics.malformed.inc({ stage: "indexer" });
        logger.warn(
          { err: (err as Error).message, subject: m.subject, seq: m.seq },
          "undecodable stream message skipped",
        );
        skipped.push(slot);
      }
    }
    applied(skipped);
    if (items.length === 0) return;
    const myEpoch = live[0]!.epoch;
    for (let attempt = 0; ; attempt++) {
      if (myEpoch !== epoch || stopped) return;
      try {
        await indexer.handleMany(items);
        break;
      } catch (err) {
        if (err instanceof StoreLostWritesError) {
          // Not retried: written past the hole, the lost writes would stay lost. Unacked, these
          // messages come again with the replay.
          const from = err.replayFrom;
          maintain(err.message, (why) => replay(why, from));
          return;
        }
        if (Date.now() - lastErrorLog > 5_000) {
          lastErrorLog = Date.now();
          logger.error(
            { err: (err as Error).message, pod: items[0]!.batch.pod },
            "applying kv events failed; retrying",
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** Math.min(attempt, 6))));
      }
    }
    applied(items.map((i) => i.slot));
  };
  // 64 messages per write: long enough to amortise the round trip, short enough that one Lua
  // script does not hold Redis (and the lookups behind it) for more than a few milliseconds.
  queues = new KeyedBatches((_subject, chunk) => applyChunk(chunk), 64, options.lingerMs ?? 0);

  const consume = async (myEpoch: number) => {
    const c = persistent
      ? await js.consumers.get(subjects.streams.kvEvents, options.durableName)
      : await js.consumers.get(subjects.streams.kvEvents, {
          // One filter as a plain string: a list needs nats-server 2.10.
          filter_subjects: filters.length === 1 ? filters[0]! : filters,
          deliver_policy: DeliverPolicy.All,
        });
    consumer = c;
    // A new consumer: deliveries of the previous one are never acknowledged through it.
    acks = new AckFloor<JsMsg>();
    const iter = await c.consume({ max_messages: 1024 });
    messages = iter;
    loop = (async () => {
      try {
        for await (const m of iter) {
          if (myEpoch !== epoch) break;
          queues.push(m.subject, { m, epoch: myEpoch, slot: persistent ? acks.delivered(m) : undefined });
          if (queues.pending >= maxPending) await queues.whenBelow(maxPending / 2);
        }
      } catch (err) {
        if (!stopped) logger.error({ err }, "kv events consumer stopped");
      }
    })();
  };

  /**
   * (Re)creates the durable consumer. From the start of the stream for a rebuild; otherwise
   * from just after its ack floor. Why not simply resume it: messages delivered but not acked
   * before a crash are redelivered only after ack_wait, after newer ones, and the per-engine
   * checkpoint would then refuse them as old. Starting again at the ack floor delivers
   * everything unacknowledged in stream order; what was applied already is skipped.
   */
  const createDurable = async (fromStart: boolean, notAfter?: bigint) => {
    let startSeq = 1;
    if (!fromStart) {
      try {
        const info = await jsm.consumers.info(subjects.streams.kvEvents, options.durableName);
        startSeq = info.ack_floor.stream_seq + 1;
      } catch {
        // no consumer yet: from the start
      }
    }
    if (notAfter !== undefined && notAfter < BigInt(startSeq)) startSeq = Number(notAfter);
    try {
      await jsm.consumers.delete(subjects.streams.kvEvents, options.durableName);
    } catch {
      // did not exist
    }
    await jsm.consumers.add(subjects.streams.kvEvents, {
      durable_name: options.durableName,
      // "all" since 2026-12-07 (was "explicit"): the ack policy of a consumer cannot be edited,
      // and this function always deletes and re-adds it, so an upgraded indexer switches on start.
      ack_policy: AckPolicy.All,
      ...(startSeq > 1
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }
        : { deliver_policy: DeliverPolicy.All }),
      ...(filters.length === 1 ? { filter_subject: filters[0]! } : { filter_subjects: filters }),
      max_ack_pending: maxPending * 4,
      ack_wait: 60_000_000_000,
    });
  };

  /** Reset the store and replay the whole stream into it. */
  const rebuild = async (why: string) => {
    epoch++;
    const myEpoch = epoch;
    await messages?.close();
    await loop;
    await queues.drain();
    logger.warn({ why }, "rebuilding the index from the start of the stream");
    await index.reset();
    indexer.resetCaches();
    await createDurable(true);
    await index.setGeneration(randomUUID());
    deps.metrics.indexerRebuilds.inc();
    if (!stopped && myEpoch === epoch) await consume(myEpoch);
  };

  /**
   * After NATS reconnected, messages delivered but lost in transit come back only after
   * ack_wait, behind newer ones: restart the consumer at its ack floor instead (in order).
   */
  const resync = async (why: string) => {
    epoch++;
    const myEpoch = epoch;
    await messages?.close().catch(() => undefined);
    await loop;
    await queues.drain();
    // Fewer messages to replay: the ack floor read next then includes what was applied.
    flushAcks();
    logger.info({ why }, "resuming the durable consumer from its ack floor");
    for (let attempt = 0; !stopped && myEpoch === epoch; attempt++) {
      try {
        await createDurable(false);
        await consume(myEpoch);
        return;
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "consumer not resumed yet; retrying");
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
  };
  /**
   * The store lost acknowledged writes: restart the durable consumer at the oldest of them (or
   * its ack floor, if older). Messages the store still has are refused by their checkpoints.
   */
  const replay = async (why: string, from: bigint) => {
    epoch++;
    const myEpoch = epoch;
    await messages?.close().catch(() => undefined);
    await loop;
    await queues.drain();
    flushAcks();
    if ((await index.generation()) === undefined) {
      await rebuild("no generation marker in the store (store lost its data)");
      return;
    }
    const lost = await indexer.lostWrites();
    const start = lost !== undefined && lost < from ? lost : from;
    logger.warn(
      { why, fromStreamSeq: String(start) },
      "index store lost acknowledged writes; replaying them",
    );
    indexer.resetCaches();
    deps.metrics.indexerReplays.inc();
    for (let attempt = 0; !stopped && myEpoch === epoch; attempt++) {
      try {
        await createDurable(false, start);
        await consume(myEpoch);
        return;
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "consumer not restarted yet; retrying");
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
  };
  const maintain = (why: string, run: (why: string) => Promise<void>) => {
    if (rebuilding) return;
    rebuilding = run(why)
      .catch((err) => logger.error({ err }, "index maintenance failed"))
      .finally(() => {
        rebuilding = undefined;
      });
  };
  if (persistent) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "reconnect" && !stopped) maintain("nats reconnected", resync);
      }
    })();
  }

  if (persistent) {
    if ((await index.generation()) === undefined) {
      await rebuild("no generation marker in the store (first start or store lost its data)");
    } else {
      await createDurable(false);
      await consume(epoch);
    }
  } else {
    await consume(epoch);
  }

  const timer = persistent
    ? setInterval(() => {
        if (rebuilding || stopped) return;
        void index
          .generation()
          .then(async (gen) => {
            if (rebuilding || stopped) return;
            if (gen === undefined) {
              maintain("generation marker vanished (store restarted empty?)", rebuild);
              return;
            }
            // An engine quiet since a failover would otherwise keep its lost writes.
            const from = await indexer.lostWrites();
            if (from !== undefined && !rebuilding && !stopped)
              maintain("checkpoints behind what was written (store failed over?)", (why) =>
                replay(why, from),
              );
          })
          .catch(() => undefined);
      }, options.generationCheckMs ?? 1_000)
    : undefined;

  // Acknowledged and retried across a NATS leader change (a lost purge leaves a gone pod indexed).
  const purges = new AckedPublisher(nc, {
    maxBuffered: 1_000,
    isClosed: () => nc.isClosed(),
    onDropped: (reason, subject, err) =>
      logger.warn(
        { reason, subject, err: (err as Error | undefined)?.message },
        "could not publish the purge of a departed pod",
      ),
  });
  let inventoryKv: KV | undefined;
  let stopInventory: (() => void) | undefined;
  const purge = options.purgeOnInventoryDelete ?? true;
  if (purge || options.onEndpoint) {
    inventoryKv = await openKv(nc, subjects.buckets.endpoints, {
      history: 1,
      replicas: options.streamReplicas ?? 1,
    });
    const watcher = await inventoryKv.watch();
    stopInventory = () => watcher.stop();
    void (async () => {
      for await (const entry of watcher) {
        if (entry.operation === "PUT") {
          if (options.onEndpoint) {
            try {
              options.onEndpoint(decode(EndpointSchema, entry.value));
            } catch (err) {
              logger.warn({ err: (err as Error).message, key: entry.key }, "unreadable inventory entry");
            }
          }
          continue;
        }
        if (!purge) continue;
        let names: { model: string; pod: string };
        try {
          names = parseModelPod(entry.key);
        } catch {
          continue;
        }
        if (options.models?.length && !options.models.includes(names.model)) continue;
        // Through the stream, so every replica and every rebuild sees the purge in order.
        const batch = make(KvEventBatchSchema, {
          model: names.model,
          pod: names.pod,
          events: [{ event: { case: "podReset", value: { reason: "left_inventory" } } }],
          receivedUnixMs: BigInt(Date.now()),
        });
        purges.publish(subjects.kvEvents(names.model, names.pod), encode(KvEventBatchSchema, batch), {
          msgId: `left|${entry.key}|${entry.revision}`,
          headers: messageHeaders(KvEventBatchSchema),
        });
      }
    })();
  }

  return {
    indexer,
    async lag() {
      const info = await consumer?.info(false);
      return (info ? info.num_pending + (persistent ? info.num_ack_pending : 0) : 0) + queues.pending;
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      stopInventory?.();
      purges.close();
      await rebuilding;
      await messages?.close();
      await loop;
      await queues.drain();
      // A graceful stop leaves nothing applied to replay.
      flushAcks();
    },
  };
}
