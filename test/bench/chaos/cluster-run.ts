/**
 * Chaos beyond one machine: an `inferd up` stack on a 3-node NATS cluster (JetStream streams and the
 * INFERD_ENDPOINTS bucket with 3 replicas) and a Redis Cluster (3 primaries, 1 replica each), all
 * real servers on loopback. Under steady load: kill -9 the NATS node leading the KV-event stream,
 * then the Redis primary holding the model's index; optionally (replicas) a second gateway and
 * scorer run next to the stack's and one of each is killed. Afterwards: KV events lost (the
 * engines' own block sets, witnessed over ZeroMQ, against kv-index's Redis view once it has
 * converged), decisions lost (successful requests without a ROUTED or COMPLETED event in
 * INFERD_REQUESTS, once the gateways' acknowledged publishers have drained) and scale decisions
 * lost (the autoscaler's published count against INFERD_DECISIONS).
 */
import {
  connectNats,
  createStreamIfMissing,
  decisionsStreamConfig,
  jetstreamManager,
  type NatsConnection,
  openKv,
  requestsStreamConfig,
} from "@inferd/bus";
import { BUCKETS, escapeToken, STREAMS } from "@inferd/protocol";
import {
  type NatsClusterHandle,
  type RedisClusterHandle,
  startNatsCluster,
  startRedisCluster,
  waitFor,
} from "@inferd/testkit";
import { type RunningStack, startStack } from "../../e2e/stack.ts";
import { EngineBlocks } from "./engine-blocks.ts";
import { type FaultFigures, failures, hitRate, recoveryMs } from "./figures.ts";
import { IndexView } from "./kv-convergence.ts";
import { SteadyLoad } from "./load.ts";
import { type Replica, startReplica } from "./replicas.ts";
import { runChaos } from "./run.ts";
import { type FaultWindow, measureLosses, type RunLosses } from "./run-losses.ts";

export const MODEL = "Qwen/Qwen3-32B";
const FAIL_OPEN = { INFERD_GATEWAY_MODEL_DEFAULTS: JSON.stringify({ failureMode: "FailOpen" }) };

export interface ClusterChaosOptions {
  sims: number;
  clients: number;
  /** Successful requests before each kill and after the fault is healed. */
  before: number;
  after: number;
  /** Also run a second gateway and scorer and kill one of each (the stack's, restarted by inferd up). */
  replicas: boolean;
  /** Longest wait for the index to converge to the engines' state once the load stopped. */
  convergeTimeoutMs: number;
  log?: (line: string) => void;
}

export interface ClusterChaosResult extends RunLosses {
  faults: FaultFigures[];
}

interface ClusterFault {
  target: string;
  /** Kills the part; resolves with what to wait for until it is healed (failover done). */
  kill(): Promise<() => Promise<void>>;
  /** After the measurement: put the cluster back whole for the next fault. */
  repair?(): Promise<void>;
}

const succeededSince = (load: SteadyLoad, fromMs: number) =>
  load.samples.filter((s) => s.startMs >= fromMs && s.status === 200).length;

async function streamLeader(nc: NatsConnection, stream: string): Promise<string | undefined> {
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  return info.cluster?.leader;
}

function natsFault(nc: NatsConnection, nats: NatsClusterHandle): ClusterFault {
  let killed = -1;
  return {
    target: "NATS node (KV-event stream leader)",
    async kill() {
      const leader = await streamLeader(nc, STREAMS.kvEvents);
      killed = Math.max(
        0,
        nats.nodes.findIndex((n) => n.name === leader),
      );
      await nats.kill(killed);
      const name = nats.nodes[killed]!.name;
      return async () => {
        await waitFor(
          async () => {
            const l = await streamLeader(nc, STREAMS.kvEvents).catch(() => undefined);
            return l !== undefined && l !== name;
          },
          { timeoutMs: 60_000, message: "a new KV-event stream leader" },
        );
      };
    },
    async repair() {
      await nats.start(killed);
    },
  };
}

function redisFault(redis: RedisClusterHandle): ClusterFault {
  return {
    target: "Redis primary (the model's shard)",
    async kill() {
      await redis.kill(await redis.primaryFor(`kvi:{${escapeToken(MODEL)}}:pid`));
      return () => redis.waitHealthy(60_000);
    },
  };
}

async function runFaults(
  load: SteadyLoad,
  faults: readonly ClusterFault[],
  opts: ClusterChaosOptions,
  windows: FaultWindow[],
): Promise<FaultFigures[]> {
  const out: FaultFigures[] = [];
  let since = performance.now();
  for (const fault of faults) {
    await waitFor(() => succeededSince(load, since) >= opts.before, {
      timeoutMs: 120_000,
      message: `${opts.before} requests served before killing ${fault.target}`,
    });
    const before = hitRate(
      load.samples.filter((s) => s.startMs >= since && s.status === 200).slice(-opts.before),
    );
    opts.log?.(`killing ${fault.target}`);
    const killMs = performance.now();
    const healed = await fault.kill();
    let readyAfterMs: number | undefined;
    try {
      await healed();
      readyAfterMs = performance.now() - killMs;
    } catch {
      readyAfterMs = undefined;
    }
    const backAt = performance.now();
    await waitFor(() => succeededSince(load, backAt) >= opts.after, {
      timeoutMs: 120_000,
      message: `${opts.after} requests served after ${fault.target}`,
    });
    const end = performance.now();
    out.push({
      target: fault.target,
      ...failures(load.samples, killMs, end),
      hitRateBefore: before,
      readyAfterMs,
      hitRateRecoveredAfterMs: recoveryMs(load.samples, killMs, before, Math.min(20, opts.after)),
    });
    await fault.repair?.();
    windows.push({ target: fault.target, fromMs: since, toMs: performance.now() });
    since = performance.now();
  }
  return out;
}

export async function runClusterChaos(opts: ClusterChaosOptions): Promise<ClusterChaosResult> {
  const log = opts.log ?? (() => undefined);
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const nats = await startNatsCluster();
    cleanup.push(() => nats.dispose());
    const redis = await startRedisCluster();
    cleanup.push(() => redis.dispose());
    log(`NATS cluster ${nats.urls}; Redis Cluster ${redis.seeds.join(",")}`);
    const nc = await connectNats({ servers: nats.urls, name: "inferd-bench-chaos" });
    cleanup.push(() => nc.close());
    // Created here with 3 replicas before any service creates them with its default streamReplicas
    // (1); services raise an existing stream's replicas but never lower them (kv-index: streamReplicas 3).
    await createStreamIfMissing(nc, { ...requestsStreamConfig(), num_replicas: 3 });
    await createStreamIfMissing(nc, { ...decisionsStreamConfig(), num_replicas: 3 });
    await openKv(nc, BUCKETS.endpoints, { history: 1, replicas: 3 });

    const stack: RunningStack = await startStack({
      sims: opts.sims,
      args: [
        "--sim-mode",
        "processes",
        "--profile",
        "tiny-fast",
        "--nats-url",
        nats.urls,
        "--redis-cluster-nodes",
        redis.seeds.join(","),
      ],
      env: { ...FAIL_OPEN, INFERD_KV_INDEX_STREAM_REPLICAS: "3" },
      timeoutMs: 180_000,
    });
    cleanup.push(() => stack.stop());
    // Before any load: engines start empty, so the witness sees every event from seq 0.
    const witness = new EngineBlocks(stack.addresses.sims);
    cleanup.push(() => witness.close());

    const extra: Replica[] = [];
    if (opts.replicas) {
      for (const service of ["gateway", "scorer"] as const) {
        const r = await startReplica(service, nats.urls, FAIL_OPEN);
        cleanup.push(() => r.process.stop());
        extra.push(r);
      }
    }
    const load = new SteadyLoad({
      gateway: stack.addresses.gateway!,
      ...(opts.replicas ? { moreGateways: [extra[0]!.address] } : {}),
      model: MODEL,
      clients: opts.clients,
      groups: 8,
      maxTokens: 4,
      requestIdPrefix: `chaos-${Date.now()}`,
      // Every request stores new blocks (and evicts old ones): KV events flow through every fault.
      questionWords: 48,
    });
    load.start();
    let loadStopped = false;
    cleanup.push(async () => {
      if (!loadStopped) await load.stop();
    });

    const windows: FaultWindow[] = [];
    const faults = await runFaults(load, [natsFault(nc, nats), redisFault(redis)], opts, windows);
    if (opts.replicas) {
      for (const target of ["gateway", "scorer"]) {
        log(`killing one ${target} replica of two`);
        const fromMs = performance.now();
        const [f] = await runChaos(
          { pids: stack.addresses.pids ?? {}, output: () => stack.output() },
          load,
          [target],
          { before: opts.before, after: opts.after, readyTimeoutMs: 120_000 },
        );
        faults.push({ ...f!, target: `${target} (1 of 2)` });
        windows.push({ target: `${target} (1 of 2)`, fromMs, toMs: performance.now() });
      }
    }
    await load.stop();
    loadStopped = true;

    log("load stopped; waiting for the index to converge and every event to be stored");
    const view = new IndexView({ clusterNodes: redis.seeds });
    cleanup.push(() => view.close());
    const losses = await measureLosses({
      nc,
      witness,
      view,
      model: MODEL,
      pods: stack.addresses.sims.map((s) => s.pod),
      samples: load.samples,
      windows,
      autoscaler: stack.addresses.autoscaler,
      convergeTimeoutMs: opts.convergeTimeoutMs,
    });
    return { faults, ...losses };
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}
