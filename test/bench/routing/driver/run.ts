import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { stageFromInferencePerf } from "../lib/inference-perf-client.ts";
import {
  type BenchOptions,
  isDirect,
  isEmbedded,
  isPeer,
  type Policy,
  SCORER_PROFILE,
  sizing,
} from "../lib/options.ts";
import { peerFleet } from "../lib/peers.ts";
import {
  type BenchMeta,
  type PolicyRun,
  type PolicySummary,
  type StageEnv,
  summarizeRuns,
} from "../lib/report/model.ts";
import { parseIndexClearedLine, parseSpawnedLine, restartTargets } from "../lib/restart.ts";
import {
  aggregateStage,
  type RouterCounters,
  type ServerCounters,
  type StageResult,
  subCounters,
} from "../lib/results.ts";
import { judgeStage } from "../lib/slo.ts";
import { buildTrace, oraclePlacement, type Trace, type TraceRequest } from "../lib/trace.ts";
import { CpuMeter } from "./cpu.ts";
import { runInferencePerfStage } from "./inference-perf.ts";
import { LoadGenerator, type Target } from "./loadgen.ts";
import { PeerRouter, peerVenv, qwen3TokenizerDir } from "./peer.ts";
import type { Progress } from "./progress.ts";
import { killServer, type RestartOutcome } from "./restart.ts";
import { scrapeFleet, scrapeRouter, subRouter } from "./scrape.ts";
import { Stack, type StackInfo } from "./stack.ts";
import { loadWords, verifyExactLengths } from "./words.ts";

export const ORACLE_MODE =
  "the load generator sends each group's requests straight to the server the group is placed on (heaviest groups first onto the least-loaded server; uniform popularity = round-robin of groups), bypassing gateway and scorer (the gateway has no pinned-endpoint header)";
export const STACK_MODE =
  "a fresh `inferd up --ports auto` per policy (own state dir: cold KV caches, empty index and JetStream), scorer profile set by INFERD_SCORER_PROFILE, gateway pick deadline by INFERD_GATEWAY_PICK_DEADLINE_MS";

export interface RunIo {
  readonly progress: Progress;
  /** Called after every policy with everything so far (to save partial results). */
  readonly onPolicyDone?: (outcome: BenchOutcome) => void;
  /** Aborted on Ctrl-C: the running stage stops, the stack is torn down, no further policy starts. */
  readonly signal?: AbortSignal;
  /** Stack output lines (to a log file). */
  readonly stackLog: (policy: Policy, line: string) => void;
  /** --client inference-perf: its configs and reports go under this directory (per policy, per stage). */
  readonly inferencePerfDir?: string;
}

/** What the peer routers (and inference-perf) need: the venv and a tokenizer directory. */
export interface PeerEnv {
  readonly venv: string;
  readonly tokenizerDir: string;
}

/** KV block size of the simulated servers (model-sim's default, vLLM's). */
const BLOCK_SIZE = 16;

export interface BenchOutcome {
  readonly meta: BenchMeta;
  readonly summaries: PolicySummary[];
}

/** Builds the trace, runs every policy on it, and summarises. */
export async function runBenchmark(o: BenchOptions, io: RunIo): Promise<BenchOutcome> {
  const startedAt = new Date().toISOString();
  const loadAvgAtStart = loadavg();
  io.progress.line("loading the Qwen3 tokenizer and generating the trace ...");
  const { words, counter } = await loadWords(o.model);
  const trace = buildTrace(
    { workload: o.workload, warmup: o.warmup, ladder: o.ladder, arrivals: o.arrivals, seed: o.seed },
    words,
  );
  const sample = trace.stages.flatMap((s) => s.requests).slice(0, 8);
  const problems = verifyExactLengths(sample, words, counter, o.workload.systemPromptLen);
  if (problems.length > 0) throw new Error(`prompt token lengths are not exact: ${problems.join("; ")}`);
  const z = sizing(o.workload, o.sims, o.kvTokensPerServer);
  io.progress.line(
    `trace: ${trace.stages.map((s) => `${s.name} ${s.rate}/s x ${s.duration}s = ${s.requests.length}`).join(", ")}` +
      (o.workload.kind !== "control"
        ? `; working set ${(z.workingSetTokens / 1000).toFixed(0)}k tokens = ${(z.clusterFill * 100).toFixed(0)}% of cluster KV, ${z.serverMultiple.toFixed(1)}x one server`
        : ""),
  );
  if (o.client === "inference-perf" && o.policies.some(isDirect))
    throw new Error(
      "--client inference-perf sends to one URL: oracle and rr-direct need the built-in generator",
    );
  let peers: PeerEnv | null = null;
  let peerTmp: string | null = null;
  if (o.policies.some(isPeer) || o.client === "inference-perf") {
    const venv = peerVenv();
    peerTmp = mkdtempSync(join(tmpdir(), "inferd-bench-peers-"));
    peers = { venv, tokenizerDir: qwen3TokenizerDir(join(peerTmp, "qwen3-tokenizer")) };
  }
  const runs: PolicyRun[] = [];
  const outcome = (): BenchOutcome => ({
    meta: {
      startedAt,
      finishedAt: new Date().toISOString(),
      host: { cpus: availableParallelism(), node: process.version, loadAvgAtStart },
      options: o,
      sizing: z,
      traceRequests: trace.stages.map((s) => ({ name: s.name, rate: s.rate, requests: s.requests.length })),
      oracleMode: ORACLE_MODE,
      stackMode: STACK_MODE,
    },
    summaries: summarizeRuns(runs, o),
  });
  try {
    for (const policy of o.policies) {
      if (io.signal?.aborted) break;
      let run = await runPolicy(policy, trace, words, o, io, peers);
      for (let attempt = 1; attempt <= o.retries && run.stackDied && !io.signal?.aborted; attempt++) {
        io.progress.line(
          `[${policy}] the stack died (${run.error}); retrying on a fresh stack (${attempt}/${o.retries})`,
        );
        const again = await runPolicy(policy, trace, words, o, io, peers);
        run = { ...again, notes: [...again.notes, `retried after the stack died: ${run.error}`] };
      }
      runs.push(run);
      io.onPolicyDone?.(outcome());
    }
  } finally {
    if (peerTmp !== null) rmSync(peerTmp, { recursive: true, force: true });
  }
  return outcome();
}

async function waitForGateway(gateway: string, model: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = "";
  while (performance.now() < deadline) {
    try {
      const res = await request(`${gateway}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "ping" }], max_tokens: 1 }),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      last = `HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 200)}`;
      if (res.statusCode === 200) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`gateway did not serve a request within ${timeoutMs} ms (last: ${last})`);
}

function router(
  policy: Policy,
  info: StackInfo,
  trace: Trace,
  peer: PeerRouter | null,
): (req: TraceRequest) => Target {
  if (peer !== null) {
    const target: Target = { origin: peer.url, name: null };
    return () => target;
  }
  if (!isDirect(policy)) {
    if (!info.gateway) throw new Error("inferd up started no gateway");
    // Several gateway replicas: spread over them as a Service would.
    const gws: Target[] = (info.gateways?.length ? info.gateways : [info.gateway]).map((origin) => ({
      origin,
      name: null,
    }));
    return (req) => gws[req.index % gws.length]!;
  }
  const servers = info.sims.map((s) => ({ origin: s.address, name: s.pod }));
  if (servers.length === 0) throw new Error("inferd up started no simulated servers");
  if (policy === "rr-direct") return (req) => servers[req.index % servers.length]!;
  const placement = oraclePlacement(trace.groupWeights, servers.length);
  // Requests that share nothing (control) are spread round-robin.
  return (req) => servers[req.group >= 0 ? placement[req.group]! : req.index % servers.length]!;
}

async function runPolicy(
  policy: Policy,
  trace: Trace,
  words: readonly string[],
  o: BenchOptions,
  io: RunIo,
  peers: PeerEnv | null,
): Promise<PolicyRun> {
  const stages: StageResult[] = [];
  const env: StageEnv[] = [];
  const skippedRates: number[] = [];
  const notes: string[] = [];
  let error: string | null = null;
  let stackDied = false;
  io.progress.line(
    o.attach !== null
      ? `[${policy}] using the attached stack`
      : `[${policy}] starting a fresh stack (${o.sims} x ${o.profile}) ...`,
  );
  let stack: Stack | null = null;
  let peer: PeerRouter | null = null;
  const stackLines: string[] = [];
  // Model servers' process ids, from the deployer's "server spawned" lines (restarts update them).
  const simPids = new Map<string, number>();
  // When kv-index last cleared a server's blocks because it found the engine restarted (performance.now()).
  const indexCleared = new Map<string, number>();
  let gen: LoadGenerator | null = null;
  try {
    if (o.attach !== null) {
      stack = Stack.attach(o.attach);
      notes.push(
        "attached to a running stack: caches were not cold and the scorer profile was the stack's own",
      );
    } else {
      stack = await Stack.start({
        sims: o.sims,
        gatewayReplicas: o.gatewayReplicas ?? 1,
        scorerReplicas: o.scorerReplicas ?? 1,
        ...(isEmbedded(policy) ? { scorerMode: "embedded" as const } : {}),
        profile: o.profile,
        model: o.model,
        scorerProfile: isDirect(policy) || isPeer(policy) ? null : SCORER_PROFILE[policy],
        // A peer routes on its own: the stack is only nats, redis and the fleet (lib/peers.ts).
        ...(isPeer(policy) ? peerFleet(policy) : {}),
        env: o.pickDeadlineMs === null ? {} : { INFERD_GATEWAY_PICK_DEADLINE_MS: String(o.pickDeadlineMs) },
        readyTimeoutMs: 180_000,
        onLine: (line) => {
          io.stackLog(policy, line);
          const spawned = parseSpawnedLine(line);
          if (spawned !== null) simPids.set(spawned.pod, spawned.pid);
          const cleared = parseIndexClearedLine(line);
          if (cleared !== null) indexCleared.set(cleared, performance.now());
          // The scorer's lines: its process's, or (embedded) the gateway's with service "scorer".
          const scorerLine = line.startsWith("scorer") || line.includes('"service":"scorer"');
          if (scorerLine && stackLines.length < 200) stackLines.push(line);
        },
      });
    }
    const info = stack.info;
    if (isPeer(policy)) {
      if (peers === null) throw new Error("peer routers need their venv (internal: PeerEnv missing)");
      peer = await PeerRouter.start(policy, {
        venv: peers.venv,
        workers: info.sims.map((s) => ({ url: s.address, kvEvents: s.kvEvents })),
        model: o.model,
        blockSize: BLOCK_SIZE,
        tokenizerDir: peers.tokenizerDir,
        onLine: (line) => io.stackLog(policy, `${peerRouterName(policy)} | ${line}`),
      });
      notes.push(`ran: ${peer.describe}`);
      await waitForGateway(peer.url, o.model, 120_000);
    } else if (o.attach === null && !isDirect(policy)) {
      const wanted = SCORER_PROFILE[policy];
      const loaded = stackLines.find((l) => l.includes("policy loaded"));
      if (loaded === undefined) notes.push("could not confirm the scorer's profile from its log");
      else if (!loaded.includes(`profile \\"${wanted}\\"`))
        throw new Error(`the scorer did not load profile "${wanted}": ${loaded.slice(0, 300)}`);
    }
    if (info.sims.length !== o.sims)
      throw new Error(`asked for ${o.sims} servers, inferd up started ${info.sims.length}`);
    if (!isDirect(policy) && peer === null) await waitForGateway(info.gateway ?? "", o.model, 60_000);
    const simAddresses = info.sims.map((s) => s.address);
    const podOf = new Map<string, string>();
    for (const s of info.sims) {
      podOf.set(s.pod, s.pod);
      podOf.set(s.address, s.pod);
    }
    gen = new LoadGenerator({
      api: o.api,
      model: o.model,
      words,
      connections: o.connections,
      route: router(policy, info, trace, peer),
    });
    // A peer's routing tier is its router process alone: nats and redis run idle beside it (the
    // fleet registers in NATS) and are left out of the meter.
    const cpu = new CpuMeter(
      peer === null
        ? (info.pids ?? {})
        : { "model-sim": info.pids?.["model-sim"], [peer.component]: peer.pid },
    );
    let failures = 0;
    let measuredIndex = 0;
    for (const stage of trace.stages) {
      if (io.signal?.aborted) throw new Error("interrupted");
      if (o.stopAfterFailures > 0 && failures >= o.stopAfterFailures) {
        skippedRates.push(stage.rate);
        continue;
      }
      const label = `[${policy}] ${stage.name} ${stage.rate}/s`;
      const viaGateway = !isDirect(policy) && peer === null && info.gateway !== undefined;
      const before = await scrapeFleet(simAddresses);
      const scorerMetrics = info.scorerMode === "embedded" ? "gateway" : info.scorer;
      const r0 = viaGateway ? await scrapeRouter(info.gateway!, scorerMetrics) : null;
      const c0 = cpu.snapshot();
      // Mid-stage prefix-cache reset (--reset-prefix-cache-at): precise routing must notice it.
      const resetAt = o.resetPrefixCacheAt ?? null;
      const resetTimer =
        resetAt !== null && !stage.warmup
          ? setTimeout(() => {
              void resetPrefixCaches(simAddresses).then((n) =>
                notes.push(
                  `${stage.name}: prefix caches reset at ${resetAt}s (${n}/${simAddresses.length} servers)`,
                ),
              );
            }, resetAt * 1000)
          : undefined;
      // Mid-stage server restart (--restart-server-at): the deployer brings it back with an empty cache.
      const restartAt = o.restartServerAt ?? null;
      let restarts: Promise<RestartOutcome[]> | null = null;
      const restartTimer =
        restartAt !== null && !stage.warmup
          ? setTimeout(
              (targets: string[]) => {
                restarts = Promise.all(
                  targets.map((pod) =>
                    killServer(pod, simPids.get(pod), info.sims.find((x) => x.pod === pod)!.address, 120_000),
                  ),
                );
              },
              restartAt * 1000,
              restartTargets(
                measuredIndex,
                o.restartServers ?? 1,
                info.sims.map((x) => x.pod),
              ),
            )
          : undefined;
      if (!stage.warmup) measuredIndex++;
      const viaInferencePerf = o.client === "inference-perf";
      let ipReport: Awaited<ReturnType<typeof runInferencePerfStage>> | null = null;
      let run: Awaited<ReturnType<LoadGenerator["runStage"]>>;
      if (viaInferencePerf) {
        if (peers === null)
          throw new Error("inference-perf needs the peers' venv (internal: PeerEnv missing)");
        io.progress.line(`${label}: inference-perf running (${stage.duration} s + drain) ...`);
        ipReport = await runInferencePerfStage(
          peers.venv,
          {
            options: o,
            stage,
            index: trace.stages.indexOf(stage),
            baseUrl: peer?.url ?? info.gateway ?? "",
            tokenizerDir: peers.tokenizerDir,
            outDir: join(
              io.inferencePerfDir ?? join(tmpdir(), "inferd-bench-inference-perf"),
              policy,
              stage.name.replaceAll(" ", "-"),
            ),
            drainSeconds: o.drainTimeout,
          },
          io.signal,
        );
        run = { records: [], eventLoopP99Ms: Number.NaN, eventLoopMaxMs: Number.NaN, aborted: 0 };
      } else {
        run = await gen.runStage(stage, o.drainTimeout * 1000, (p) => io.progress.stage(label, p), io.signal);
      }
      clearTimeout(resetTimer);
      clearTimeout(restartTimer);
      if (restarts !== null) {
        for (const r of await (restarts as Promise<RestartOutcome[]>)) {
          const cleared = indexCleared.get(r.pod);
          notes.push(
            `${stage.name}: ${r.pod} killed at ${restartAt}s, ` +
              (r.skipped !== undefined
                ? `not restarted (${r.skipped})`
                : r.readyAfterMs !== null
                  ? `serving again ${(r.readyAfterMs / 1000).toFixed(1)}s later`
                  : "not serving again within 120 s") +
              (peer !== null || info.scorer === undefined
                ? ""
                : cleared !== undefined && cleared > r.killedAt
                  ? `, kv-index cleared its blocks ${((cleared - r.killedAt) / 1000).toFixed(1)}s after the kill`
                  : ", kv-index had not cleared its blocks by the end of the stage (or its return, if later)"),
          );
        }
      }
      const c1 = cpu.snapshot();
      const after = await scrapeFleet(simAddresses);
      const r1 = viaGateway ? await scrapeRouter(info.gateway!, scorerMetrics) : null;
      const counters: ServerCounters | null = before && after ? subCounters(after, before) : null;
      const router: RouterCounters | null = r0 && r1 ? subRouter(r1, r0) : null;
      for (const r of run.records) if (r.endpoint !== null) r.endpoint = podOf.get(r.endpoint) ?? r.endpoint;
      const meta = { name: stage.name, rate: stage.rate, warmup: stage.warmup, counters, router };
      const result =
        ipReport !== null
          ? stageFromInferencePerf(ipReport, meta)
          : aggregateStage({ ...meta, records: run.records, endpoints: info.sims.map((s) => s.pod) });
      stages.push(result);
      const use = CpuMeter.between(c0, c1);
      env.push({
        cpu: use,
        eventLoopP99Ms: run.eventLoopP99Ms,
        eventLoopMaxMs: run.eventLoopMaxMs,
        aborted: run.aborted,
        loadAvg1: loadavg()[0]!,
      });
      // A component that died (or was killed from outside) invalidates the stage: it measured the
      // broken stack, not the policy. The policy is retried on a fresh stack.
      const died = stack.failure ?? peer?.failure ?? null;
      if (died !== null) throw new StackDied(`${died} during ${stage.name}`);
      const verdict = judgeStage(result, o.slo);
      if (!stage.warmup) failures = verdict.pass ? 0 : failures + 1;
      io.progress.line(
        `${label}: ${stageLine(result)} | ${cpuLine(use, run.eventLoopP99Ms)}, load avg ${loadavg()[0]!.toFixed(1)} | ${stage.warmup ? "warm-up (excluded)" : verdict.pass ? "SLO pass" : `SLO FAIL (${verdict.reasons.join(", ")})`}`,
      );
      if (result.errorSamples.length > 0)
        io.progress.line(
          `${label}: failures ${JSON.stringify(result.failures)} e.g. ${result.errorSamples.join(" | ")}`,
        );
      if (counters === null) notes.push(`${stage.name}: server counters unavailable`);
      if (router && router.scorerFailures > 0)
        notes.push(
          `${stage.name}: ${router.scorerFailures} picks made without the scorer (gateway fallback)`,
        );
      if (router && router.kvLookupErrors > 0)
        notes.push(`${stage.name}: ${router.kvLookupErrors} kv-index lookup errors`);
      if (result.lagMs.p99 > 50)
        notes.push(`${stage.name}: load generator lag p99 ${result.lagMs.p99.toFixed(0)} ms`);
    }
  } catch (err) {
    stackDied = err instanceof StackDied;
    error = (err as Error).message.split("\n")[0]!;
    io.progress.line(`[${policy}] FAILED: ${(err as Error).message}`);
  } finally {
    await gen?.close().catch(() => undefined);
    await peer
      ?.stop()
      .catch((err) => io.progress.line(`[${policy}] stopping the peer router: ${(err as Error).message}`));
    await stack
      ?.stop()
      .catch((err) => io.progress.line(`[${policy}] stopping the stack: ${(err as Error).message}`));
  }
  return { policy, stages, env, error, skippedRates, notes, stackDied };
}

function stageLine(s: StageResult): string {
  const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  return (
    `${s.succeeded}/${s.sent} ok, TTFT p90 ${f(s.ttft.p90)}s, ITL p90 ${f(s.itl.p90 * 1000, 0)}ms, ` +
    `out ${f(s.outputTokensPerSecond, 0)} tok/s, hit ${f(s.cacheHitRate * 100, 1)}%, imb ${f(s.imbalanceMaxOverMean)}, lag p99 ${f(s.lagMs.p99, 0)}ms`
  );
}

/**
 * POST /reset_prefix_cache?reset_running_requests=true to every server: current vLLM (and model-sim)
 * preempt the running requests (recomputed later) so the reset lands under load; without the flag
 * they refuse while requests hold blocks. Retried every 100 ms for up to 10 s (a server restarting,
 * blocks held for a KV transfer). How many servers did reset.
 */
async function resetPrefixCaches(addresses: readonly string[]): Promise<number> {
  const ok = await Promise.all(
    addresses.map(async (a) => {
      for (let attempt = 0; attempt < 100; attempt++) {
        try {
          const r = await request(`${a}/reset_prefix_cache?reset_running_requests=true`, { method: "POST" });
          await r.body.dump();
          if (r.statusCode === 200) return true;
        } catch {
          // server away: try again
        }
        await new Promise((res) => setTimeout(res, 100));
      }
      return false;
    }),
  );
  return ok.filter(Boolean).length;
}

function cpuLine(c: import("../lib/report/model.ts").CpuUse, loopP99: number): string {
  const parts = Object.entries(c.components)
    .filter(([, v]) => Number.isFinite(v) && v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`);
  return `CPU ${(c.machineBusy * 100).toFixed(0)}% of ${c.cores} cores (${parts.join(", ")}), loop p99 ${loopP99.toFixed(0)}ms`;
}

function peerRouterName(policy: Policy): string {
  return policy.startsWith("sglang-") ? "sglang-router" : "vllm-router";
}

/** The stack stopped by itself in the middle of a policy's run. */
export class StackDied extends Error {}
