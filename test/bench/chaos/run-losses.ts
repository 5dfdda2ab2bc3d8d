/**
 * What a chaos run lost, measured once the load stopped: KV events (the engines' own block sets,
 * witnessed over ZeroMQ, against kv-index's Redis view once it has converged), routing decisions
 * and lifecycle events (successful requests without a ROUTED or COMPLETED event in
 * INFERD_REQUESTS, once the gateways' acknowledged publishers have drained) and scale decisions
 * (the autoscaler's published count against INFERD_DECISIONS). Shared by the one-node and the
 * cluster runs.
 */
import type { NatsConnection } from "@inferd/bus";
import { waitFor } from "@inferd/testkit";
import { request } from "undici";
import { sumSamples } from "../routing/lib/prom.ts";
import { lostDecisions, type StoredLifecycle, storedLifecycle, storedScaleDecisions } from "./decisions.ts";
import type { EngineBlocks } from "./engine-blocks.ts";
import type { Sample } from "./figures.ts";
import { compareBlocks, type IndexView, type KvDiff } from "./kv-convergence.ts";

/** The part of the run (before window, kill, recovery) each fault's figures come from. */
export interface FaultWindow {
  target: string;
  fromMs: number;
  toMs: number;
}

export interface RunLosses {
  kv: KvDiff & {
    convergedAfterMs: number | undefined;
    witnessGaps: number;
    witnessBatches: number;
    /** Missing and extra blocks per engine (which fault left them: the killed engine, or all). */
    byPod: Record<string, { missing: number; extra: number }>;
  };
  decisions: {
    succeeded: number;
    /** Successful requests without a ROUTED event in the stream. */
    lost: number;
    lostByFault: Record<string, number>;
    /** Successful requests without a COMPLETED event in the stream. */
    completedLost: number;
    completedLostByFault: Record<string, number>;
    /** RequestEvents stored over the run. */
    storedEvents: number;
    /** The lifecycle events took this long to be all stored once the load stopped (undefined: never). */
    storedAfterMs: number | undefined;
  };
  scaleDecisions: { published: number; dropped: number; stored: number };
}

/** The autoscaler's published and dropped decision counters (0 when it cannot be read). */
async function autoscalerCounters(url: string | undefined): Promise<{ published: number; dropped: number }> {
  if (url === undefined) return { published: 0, dropped: 0 };
  const res = await request(`${url}/metrics`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const s = sumSamples(await res.body.text());
  return {
    published: s.get("inferd_autoscaler_decisions_published_total") ?? 0,
    dropped: s.get("inferd_autoscaler_decisions_dropped_total") ?? 0,
  };
}

export async function measureLosses(p: {
  nc: NatsConnection;
  witness: EngineBlocks;
  view: IndexView;
  model: string;
  pods: readonly string[];
  samples: readonly Sample[];
  windows: readonly FaultWindow[];
  autoscaler: string | undefined;
  convergeTimeoutMs: number;
}): Promise<RunLosses> {
  const stoppedAt = performance.now();
  let diff = compareBlocks(p.witness.sets, await p.view.blocks(p.model, p.pods));
  let convergedAfterMs: number | undefined;
  // Both waits at once, so each figure counts from the end of the load.
  const converging = waitFor(
    async () => {
      diff = compareBlocks(p.witness.sets, await p.view.blocks(p.model, p.pods));
      return diff.missing === 0 && diff.extra === 0;
    },
    { timeoutMs: p.convergeTimeoutMs, intervalMs: 250, message: "the index to converge" },
  ).then(
    () => {
      convergedAfterMs = performance.now() - stoppedAt;
    },
    () => undefined,
  );
  const ok = p.samples.filter((s) => s.status === 200 && s.requestId);
  const succeeded = ok.map((s) => s.requestId!);
  // The gateways retry what a fault left unacknowledged: wait until it is all stored (or given up).
  let stored: StoredLifecycle = await storedLifecycle(p.nc);
  let storedAfterMs: number | undefined;
  const storing = waitFor(
    async () => {
      stored = await storedLifecycle(p.nc);
      return (
        lostDecisions(succeeded, stored.routed) === 0 && lostDecisions(succeeded, stored.completed) === 0
      );
    },
    { timeoutMs: 90_000, intervalMs: 1_000, message: "every lifecycle event stored" },
  ).then(
    () => {
      storedAfterMs = performance.now() - stoppedAt;
    },
    () => undefined,
  );
  await Promise.all([converging, storing]);
  const indexed = await p.view.blocks(p.model, p.pods);
  const byPod: Record<string, { missing: number; extra: number }> = {};
  for (const [pod, set] of p.witness.sets) {
    const d = compareBlocks(new Map([[pod, set]]), indexed);
    if (d.missing > 0 || d.extra > 0) byPod[pod] = { missing: d.missing, extra: d.extra };
  }
  let scale = { ...(await autoscalerCounters(p.autoscaler)), stored: await storedScaleDecisions(p.nc) };
  await waitFor(
    async () => {
      scale = { ...(await autoscalerCounters(p.autoscaler)), stored: await storedScaleDecisions(p.nc) };
      return scale.stored + scale.dropped >= scale.published;
    },
    { timeoutMs: 90_000, intervalMs: 1_000, message: "every scale decision stored or dropped" },
  ).catch(() => undefined);
  /** Successful requests whose event is not stored, by the fault during which they were sent. */
  const byFault = (stored: ReadonlySet<string>) => {
    const out: Record<string, number> = {};
    for (const s of ok) {
      if (stored.has(s.requestId!)) continue;
      const w = p.windows.find((w) => s.startMs >= w.fromMs && s.startMs < w.toMs);
      const key = w?.target ?? "outside any fault";
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  };
  return {
    kv: {
      ...diff,
      convergedAfterMs,
      witnessGaps: [...p.witness.gaps.values()].reduce((a, b) => a + b, 0),
      witnessBatches: [...p.witness.batches.values()].reduce((a, b) => a + b, 0),
      byPod,
    },
    decisions: {
      succeeded: succeeded.length,
      lost: lostDecisions(succeeded, stored.routed),
      lostByFault: byFault(stored.routed),
      completedLost: lostDecisions(succeeded, stored.completed),
      completedLostByFault: byFault(stored.completed),
      storedEvents: stored.events,
      storedAfterMs,
    },
    scaleDecisions: scale,
  };
}
