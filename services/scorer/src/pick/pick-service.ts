import { CycleState } from "../framework/cycle.ts";
import type { CandidateExplanation, Filter, SchedulingResult } from "../framework/plugin.ts";
import type { Scheduler } from "../framework/scheduler.ts";
import type { Endpoint, PickOutcome, Prompt, ScoredEndpoint } from "../framework/types.ts";
import type { EndpointStore } from "../state/endpoints.ts";
import type { InflightTracker, PickRecord } from "../state/inflight.ts";
import type { LoadView } from "../state/load-view.ts";
import type { SessionStore } from "../state/sessions.ts";

/** A pick request in domain terms (the NATS adapter converts PickRequest into this). */
export interface PickInput {
  readonly requestId: string;
  readonly model: string;
  readonly prompt: Prompt;
  readonly sessionId: string;
  readonly priority: number;
  readonly sloTtftMs: number | undefined;
  readonly sloTpotMs: number | undefined;
  readonly maxTokens: number;
  readonly excludePods: readonly string[];
  readonly cacheSalt: string;
}

export interface Choice {
  readonly pod: string;
  readonly address: string;
  readonly score: number;
  readonly cachedTokens: number;
}

export interface PickResult {
  readonly outcome: PickOutcome;
  readonly message: string;
  readonly endpoints: readonly Choice[];
  readonly prefill: Choice | undefined;
  readonly candidates: readonly CandidateExplanation[];
  readonly profile: string;
  readonly promptTokens: number;
  readonly seconds: number;
  /** Cached fraction of the prompt on the chosen endpoint (undefined when nothing was picked). */
  readonly prefixHitRatio: number | undefined;
}

export interface PickServiceDeps {
  readonly scheduler: Scheduler;
  readonly endpoints: EndpointStore;
  readonly load: LoadView;
  readonly inflight: InflightTracker;
  readonly sessions: SessionStore;
  readonly now: () => number;
  readonly random?: () => number;
  /** Told about every decision, so other scorer replicas can count it before the gateway's ROUTED event. */
  readonly onDecision?: (decision: Decision) => void;
}

/** A routing decision as shared between scorer replicas. */
export interface Decision extends PickRecord {
  readonly sessionId: string;
}

/**
 * The pick use case: candidates -> producers -> profiles -> outcome, then record the decision
 * (approximate prefix index, speculative in-flight load, session binding). No I/O of its own; the
 * only awaits are the producers' (kv-index lookup through the plugin handle).
 */
export class PickService {
  private readonly deps: PickServiceDeps;

  constructor(deps: PickServiceDeps) {
    this.deps = deps;
  }

  get scheduler(): Scheduler {
    return this.deps.scheduler;
  }

  async pick(input: PickInput): Promise<PickResult> {
    const t0 = performance.now();
    const nowMs = this.deps.now();
    const { baseModel, lora, endpoints: infos } = this.deps.endpoints.candidates(input.model);
    const exclude = new Set(input.excludePods);
    const ready = infos.filter((i) => i.ready && !exclude.has(i.pod));
    let endpoints: Endpoint[] = ready.map((i) => this.deps.load.endpoint(i, nowMs));
    // Fail open: drop servers whose scrape fails, unless that would drop every one of them.
    const reachable = endpoints.filter((e) => !e.unreachable);
    if (reachable.length > 0) endpoints = reachable;

    const elapsed = (): number => (performance.now() - t0) / 1000;
    if (endpoints.length === 0) {
      const why =
        infos.length === 0
          ? `no endpoint serves model "${input.model}"`
          : `none of the ${infos.length} endpoints of "${input.model}" is ready${exclude.size > 0 ? " and not excluded" : ""}`;
      return empty("NO_ENDPOINTS", why, elapsed());
    }

    const cycle = new CycleState(
      {
        requestId: input.requestId,
        model: input.model,
        baseModel,
        lora,
        sessionId: input.sessionId,
        priority: input.priority,
        sloTtftMs: input.sloTtftMs,
        sloTpotMs: input.sloTpotMs,
        maxTokens: input.maxTokens,
        cacheSalt: input.cacheSalt,
        prompt: input.prompt,
      },
      nowMs,
      this.deps.random,
    );
    const scheduler = this.deps.scheduler;
    await scheduler.produce(cycle, endpoints);
    const result = scheduler.schedule(cycle, endpoints);
    const { outcome, message } = this.outcome(cycle, result, endpoints);
    const picked = result.refusal ? [] : result.primary.picked;
    const prefillPick = result.refusal ? undefined : result.prefill?.picked[0];

    // Only a pick the gateway will act on is recorded: a SATURATED or SLO_UNATTAINABLE answer still
    // lists endpoints, but the request waits or is dropped, so it must not add speculative load, bind a
    // session, teach the approximate index or reach the peers as a decision.
    if (picked.length > 0 && outcome === "OK") {
      scheduler.observe(cycle, result);
      const chosen = picked[0]!;
      const decision: Decision = {
        requestId: input.requestId,
        baseModel,
        pod: chosen.endpoint.pod,
        prefillPod: prefillPick?.endpoint.pod ?? "",
        promptTokens: cycle.promptTokens,
        cachedTokens: cycle.cachedTokens((prefillPick ?? chosen).endpoint.pod),
        sessionId: input.sessionId,
      };
      this.deps.inflight.picked(decision, nowMs);
      if (input.sessionId) this.deps.sessions.bind(input.sessionId, chosen.endpoint.pod, nowMs);
      this.deps.onDecision?.(decision);
    }

    const choice = (s: ScoredEndpoint): Choice => ({
      pod: s.endpoint.pod,
      address: s.endpoint.info.address,
      score: s.total,
      cachedTokens: cycle.cachedTokens(s.endpoint.pod),
    });
    const first = picked[0];
    const hitPod = prefillPick ?? first;
    return {
      outcome,
      message,
      endpoints: picked.map(choice),
      prefill: prefillPick ? choice(prefillPick) : undefined,
      candidates: mergeCandidates(result),
      profile: result.profiles.map((p) => p.profile).join(","),
      promptTokens: cycle.promptTokens,
      seconds: elapsed(),
      prefixHitRatio:
        hitPod && cycle.promptTokens > 0
          ? cycle.cachedTokens(hitPod.endpoint.pod) / cycle.promptTokens
          : undefined,
    };
  }

  private outcome(
    cycle: CycleState,
    result: SchedulingResult,
    endpoints: readonly Endpoint[],
  ): { outcome: PickOutcome; message: string } {
    const notes = cycle.notes.join("; ");
    const join = (m: string): string => (notes ? `${m}; ${notes}` : m);
    if (result.refusal) return { outcome: result.refusal.outcome, message: join(result.refusal.message) };
    const primary = result.primary;
    if (primary.picked.length === 0) {
      const by = primary.emptiedBy;
      const filter = by
        ? (this.deps.scheduler.config.plugins.find((p) => p.name === by) as Filter | undefined)
        : undefined;
      const outcome = filter?.emptyOutcome ?? "NO_ENDPOINTS";
      return {
        outcome,
        message: join(
          by
            ? `no endpoint left after filter "${by}" in profile "${primary.profile}"`
            : `profile "${primary.profile}" picked no endpoint`,
        ),
      };
    }
    const flag = cycle.flags[0];
    if (flag) return { outcome: flag.outcome, message: join(flag.message) };
    // Saturation is judged over every server that could take the request (decode-capable ones).
    const serving = endpoints.filter((e) => e.info.role !== "prefill");
    const pool = serving.length > 0 ? serving : endpoints;
    // Fail open: when no server's metrics can be read, the scraping is more likely broken than every
    // server down, so route rather than have the gateway hold everything as SATURATED.
    if (pool.every((e) => e.unreachable)) {
      return {
        outcome: "OK",
        message: join("metrics unreachable on every endpoint; routed without load data"),
      };
    }
    if (this.deps.scheduler.config.saturation && pool.every((e) => this.deps.scheduler.saturated(cycle, e))) {
      return { outcome: "SATURATED", message: join(`all ${pool.length} endpoints are saturated`) };
    }
    return { outcome: "OK", message: notes };
  }
}

function empty(outcome: PickOutcome, message: string, seconds: number): PickResult {
  return {
    outcome,
    message,
    endpoints: [],
    prefill: undefined,
    candidates: [],
    profile: "",
    promptTokens: 0,
    seconds,
    prefixHitRatio: undefined,
  };
}

/**
 * One explanation per pod: the primary (decode) profile's, with a prefill profile's scores added under
 * `<profile>/<plugin>` so both are visible.
 */
function mergeCandidates(result: SchedulingResult): CandidateExplanation[] {
  const primary = result.primary.candidates;
  const others = result.profiles.filter((p) => p !== result.primary);
  if (others.length === 0) return [...primary];
  return primary.map((c) => {
    const scores = new Map(c.scores);
    for (const o of others) {
      const oc = o.candidates.find((x) => x.pod === c.pod);
      if (oc) for (const [k, v] of oc.scores) scores.set(`${o.profile}/${k}`, v);
    }
    return { ...c, scores };
  });
}
