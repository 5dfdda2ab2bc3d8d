/**
 * Chaos on the control plane: an `inferd up` stack in deployer mode (the deployer's local driver
 * runs the model servers) with a standby autoscaler beside the stack's. Under steady load:
 * kill -9 the autoscaler holding the lease (the standby must take it over) and the deployer
 * (`inferd up`'s supervisor restarts it). For each: requests failed, time until the part serves
 * again (the standby leads; the deployer is ready), hit-rate recovery; plus the scale decisions
 * published against those stored in INFERD_DECISIONS and, for the deployer, endpoints dropped
 * from or marked not ready in INFERD_ENDPOINTS, and whether the inventory is true afterwards
 * (every ready endpoint answers /health, as many as the pool's replicas).
 */
import { connectNats, type KV, openKv } from "@inferd/bus";
import { BUCKETS, decode, type Endpoint, EndpointSchema } from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
import { request } from "undici";
import { startStack } from "../../e2e/stack.ts";
import { sumSamples } from "../routing/lib/prom.ts";
import { storedScaleDecisions } from "./decisions.ts";
import { type FaultFigures, failures, hitRate, recoveryMs } from "./figures.ts";
import { SteadyLoad } from "./load.ts";
import { renderFigureTable } from "./loss-table.ts";
import { startReplica } from "./replicas.ts";
import { runChaos } from "./run.ts";

const MODEL = "Qwen/Qwen3-32B";

export interface ControlPlaneOptions {
  sims: number;
  clients: number;
  before: number;
  after: number;
  log?: (line: string) => void;
}

export interface ControlPlaneResult {
  faults: FaultFigures[];
  /** Scale decisions over the run: published by the lease holders (as their counters say) and stored. */
  scaleDecisions: { published: number; dropped: number; stored: number };
  /** During the deployer's fault: inventory entries deleted or turned not ready, and the truth afterwards. */
  inventory: { dropped: number; notReady: number; trueAfterMs: number | undefined; endpoints: number };
  /** Model servers the restarted deployer adopted and started (its log lines after the kill). */
  restartedDeployer: { adopted: number; started: number };
}

/**
 * What the deployer's next life did, from `inferd up`'s output after the deployer's exit line:
 * servers adopted and servers spawned (the local driver logs each as a JSON line). Pure.
 */
export function restartedDeployerServers(output: string): { adopted: number; started: number } {
  const lines = output.split("\n");
  let from = -1;
  for (const [i, l] of lines.entries()) if (/deployer\s*\|\s*exited \(/.test(l)) from = i;
  const after = from < 0 ? [] : lines.slice(from + 1);
  return {
    adopted: after.filter((l) => l.includes('"msg":"server adopted"')).length,
    started: after.filter((l) => l.includes('"msg":"server spawned"')).length,
  };
}

async function metrics(url: string): Promise<Map<string, number> | undefined> {
  try {
    const res = await request(`${url}/metrics`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
    return sumSamples(await res.body.text());
  } catch {
    return undefined;
  }
}

const isLeader = async (url: string) => (await metrics(url))?.get("inferd_autoscaler_leader") === 1;

/** Every ready endpoint answers /health, and there are `expected` of them. */
async function inventoryTrue(kv: KV, expected: number): Promise<{ ok: boolean; endpoints: number }> {
  const ready: Endpoint[] = [];
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    if (e?.operation !== "PUT") continue;
    const ep = decode(EndpointSchema, e.value);
    if (ep.ready) ready.push(ep);
  }
  const healthy = await Promise.all(
    ready.map((ep) =>
      request(`${ep.address}/health`, { headersTimeout: 2_000, bodyTimeout: 2_000 }).then(
        async (r) => {
          await r.body.dump();
          return r.statusCode === 200;
        },
        () => false,
      ),
    ),
  );
  return { ok: ready.length === expected && healthy.every(Boolean), endpoints: ready.length };
}

export async function runControlPlaneChaos(opts: ControlPlaneOptions): Promise<ControlPlaneResult> {
  const log = opts.log ?? (() => undefined);
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const failOpen = { INFERD_GATEWAY_MODEL_DEFAULTS: JSON.stringify({ failureMode: "FailOpen" }) };
    const stack = await startStack({
      sims: opts.sims,
      args: ["--profile", "tiny-fast"],
      env: failOpen,
      timeoutMs: 180_000,
    });
    cleanup.push(() => stack.stop());
    const nc = await connectNats({ servers: stack.addresses.nats, name: "inferd-bench-chaos-control" });
    cleanup.push(() => nc.close());
    const kv = await openKv(nc, BUCKETS.endpoints, { history: 1 });
    // The standby: the same pool as inferd up's autoscaler (pinned to --sims).
    const standby = await startReplica("autoscaler", stack.addresses.nats, {
      INFERD_AUTOSCALER_POOLS: JSON.stringify([
        { model: MODEL, pool: "default", minReplicas: opts.sims, maxReplicas: opts.sims },
      ]),
    });
    cleanup.push(() => standby.process.stop());
    const autoscalers = [
      {
        url: stack.addresses.autoscaler!,
        kill: () => process.kill(stack.addresses.pids!.autoscaler!, "SIGKILL"),
      },
      { url: standby.address, kill: () => standby.process.kill() },
    ];

    // Inventory changes from now on (the deployer's fault is judged on them).
    const changes: { atMs: number; op: string; ready: boolean }[] = [];
    const watcher = await kv.watch({ include: "updates" });
    cleanup.push(async () => watcher.stop());
    void (async () => {
      for await (const e of watcher) {
        const ready = e.operation === "PUT" ? decode(EndpointSchema, e.value).ready : false;
        changes.push({ atMs: performance.now(), op: e.operation, ready });
      }
    })();

    const load = new SteadyLoad({
      gateway: stack.addresses.gateway!,
      model: MODEL,
      clients: opts.clients,
      groups: 8,
      maxTokens: 4,
    });
    load.start();
    cleanup.push(() => load.stop());
    const succeededSince = (fromMs: number) =>
      load.samples.filter((s) => s.startMs >= fromMs && s.status === 200).length;

    // 1. The autoscaler holding the lease.
    // An object, not the bare index: waitFor takes 0 for "not yet".
    const { leaderIdx } = await waitFor(
      async () => {
        for (const [i, a] of autoscalers.entries()) if (await isLeader(a.url)) return { leaderIdx: i };
        return undefined;
      },
      { timeoutMs: 60_000, message: "an autoscaler holding the lease" },
    );
    const survivor = autoscalers[1 - leaderIdx]!;
    const killed = autoscalers[leaderIdx]!;
    await waitFor(() => succeededSince(0) >= opts.before, {
      timeoutMs: 120_000,
      message: `${opts.before} requests before killing the autoscaler leader`,
    });
    const before = hitRate(load.samples.filter((s) => s.status === 200).slice(-opts.before));
    const leaderCounters = (await metrics(autoscalers[leaderIdx]!.url)) ?? new Map();
    log(`killing the autoscaler leader (${leaderIdx === 0 ? "inferd up's" : "the standby"})`);
    const killMs = performance.now();
    autoscalers[leaderIdx]!.kill();
    // The lease goes to the standby, or to the killed replica's successor if inferd up restarted
    // it first (same ops address, a new process): either is a leader again.
    let takeoverMs: number | undefined;
    try {
      const by = await waitFor(
        async () => {
          if (await isLeader(survivor.url)) return "the standby";
          if (await isLeader(killed.url)) return "the restarted replica";
          return undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100, message: "an autoscaler to take the lease" },
      );
      takeoverMs = performance.now() - killMs;
      log(`lease taken by ${by}`);
    } catch {
      takeoverMs = undefined;
    }
    const backAt = performance.now();
    await waitFor(() => succeededSince(backAt) >= opts.after, {
      timeoutMs: 120_000,
      message: `${opts.after} requests after the autoscaler fault`,
    });
    const faults: FaultFigures[] = [
      {
        target: "autoscaler leader (1 of 2)",
        ...failures(load.samples, killMs, performance.now()),
        hitRateBefore: before,
        readyAfterMs: takeoverMs,
        hitRateRecoveredAfterMs: recoveryMs(load.samples, killMs, before, Math.min(20, opts.after)),
      },
    ];

    // 2. The deployer (restarted by inferd up's supervisor).
    const deployerFrom = performance.now();
    const [d] = await runChaos(
      { pids: stack.addresses.pids ?? {}, output: () => stack.output() },
      load,
      ["deployer"],
      { before: opts.before, after: opts.after, readyTimeoutMs: 120_000 },
    );
    faults.push(d!);
    const during = changes.filter((c) => c.atMs >= deployerFrom);
    let trueAfterMs: number | undefined;
    let endpoints = 0;
    try {
      await waitFor(
        async () => {
          const t = await inventoryTrue(kv, opts.sims);
          endpoints = t.endpoints;
          return t.ok;
        },
        { timeoutMs: 60_000, intervalMs: 500, message: "the inventory to be true" },
      );
      trueAfterMs = performance.now() - deployerFrom;
    } catch {
      trueAfterMs = undefined;
    }
    await load.stop();
    const restartedDeployer = restartedDeployerServers(stack.output());

    // The killed leader's counters as last read, its restarted successor's and the standby's.
    const counters = [
      leaderCounters,
      (await metrics(killed.url)) ?? new Map<string, number>(),
      (await metrics(survivor.url)) ?? new Map<string, number>(),
    ];
    const total = (name: string) => counters.reduce((sum, m) => sum + (m.get(name) ?? 0), 0);
    const published = total("inferd_autoscaler_decisions_published_total");
    const dropped = total("inferd_autoscaler_decisions_dropped_total");
    let stored = await storedScaleDecisions(nc);
    await waitFor(
      async () => {
        stored = await storedScaleDecisions(nc);
        return stored + dropped >= published;
      },
      { timeoutMs: 30_000, intervalMs: 500, message: "scale decisions stored" },
    ).catch(() => undefined);
    return {
      faults,
      scaleDecisions: { published, dropped, stored },
      inventory: {
        dropped: during.filter((c) => c.op !== "PUT").length,
        notReady: during.filter((c) => c.op === "PUT" && !c.ready).length,
        trueAfterMs,
        endpoints,
      },
      restartedDeployer,
    };
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}

/** The control plane's own figures (decisions, inventory), as a plain-text table. Pure. */
export function renderControlPlane(
  r: Pick<ControlPlaneResult, "scaleDecisions" | "inventory" | "restartedDeployer">,
): string {
  const s = r.scaleDecisions;
  const i = r.inventory;
  const rows: [string, string][] = [
    ["scale decisions published / stored / dropped", `${s.published} / ${s.stored} / ${s.dropped}`],
    ["deployer fault: endpoints deleted / marked not ready", `${i.dropped} / ${i.notReady}`],
    [
      "restarted deployer: servers adopted / started",
      `${r.restartedDeployer.adopted} / ${r.restartedDeployer.started}`,
    ],
    [
      "inventory true again (ready = answering, = replicas)",
      i.trueAfterMs === undefined
        ? `not within the wait (${i.endpoints} ready)`
        : `${(i.trueAfterMs / 1000).toFixed(1)} s (${i.endpoints} ready)`,
    ],
  ];
  return renderFigureTable("control plane", rows);
}
