import { buildScheduler, describeScheduler } from "./framework/build.ts";
import { BUILTIN_PROFILES, type BuiltinProfileName, isBuiltinProfile } from "./framework/builtin-profiles.ts";
import { parsePickerConfig } from "./framework/epp-config.ts";
import { ConfigError } from "./framework/errors.ts";
import type { KvLookupFn, TokenizerFn } from "./framework/handle.ts";
import type { Registry } from "./framework/registry.ts";
import { type PluginTimer, Scheduler, type SchedulerConfig } from "./framework/scheduler.ts";
import { type Decision, PickService } from "./pick/pick-service.ts";
import { builtinRegistry } from "./plugins/index.ts";
import { EndpointStore } from "./state/endpoints.ts";
import { InflightTracker, type LifecycleEvent } from "./state/inflight.ts";
import { LatencyModel, type PredictionError } from "./state/latency-model.ts";
import { featuresOf, LatencyTrainer, profileOf } from "./state/latency-trainer.ts";
import { LoadView } from "./state/load-view.ts";
import { SessionStore } from "./state/sessions.ts";
import type { TtftPrior } from "./state/ttft-predictor.ts";

/** Where the picking policy comes from: a config file's text, or a built-in profile name. */
export type PolicySource =
  | { readonly kind: "config"; readonly text: string; readonly source: string }
  | { readonly kind: "builtin"; readonly name: string };

export interface CoreOptions {
  readonly policy: PolicySource;
  readonly ttftPrior?: TtftPrior;
  /** Cold-start time per output token of an idle server, ms (default 20). */
  readonly tpotPriorMs?: number;
  /** Each TTFT / TPOT prediction against what happened, before the model learns from it. */
  readonly onPredictionError?: (e: PredictionError) => void;
  /** How long an own pick counts as in flight before the gateway's ROUTED event confirms it. */
  readonly speculativeTtlMs?: number;
  /** Longest a request counts as in flight without a COMPLETED/FAILED event. */
  readonly maxInflightAgeMs?: number;
  /** Scraped metrics older than this are unknown. */
  readonly metricsStalenessMs?: number;
  readonly kvLookup?: KvLookupFn;
  readonly tokenizer?: TokenizerFn;
  readonly timer?: PluginTimer;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly registry?: Registry;
  /** Called with every routing decision (run.ts shares them with the other replicas). */
  readonly onDecision?: (decision: Decision) => void;
}

export const DEFAULT_TTFT_PRIOR: TtftPrior = { overheadMs: 20, prefillTokensPerSecond: 15_928 };

/** Everything a scorer replica holds, without any I/O: what main.ts wires and what tests and benchmarks reuse. */
export interface ScorerCore {
  readonly config: SchedulerConfig;
  readonly description: string;
  readonly scheduler: Scheduler;
  readonly endpoints: EndpointStore;
  readonly inflight: InflightTracker;
  readonly load: LoadView;
  readonly sessions: SessionStore;
  /** The learned latency model (TTFT and time per output token), also the plugins' TtftModel. */
  readonly ttft: LatencyModel;
  readonly trainer: LatencyTrainer;
  readonly picks: PickService;
  /** Applies a gateway lifecycle event to in-flight load, sessions and the TTFT model. */
  applyEvent(ev: LifecycleEvent): void;
  /** Applies another replica's decision (counted like an own pick until the ROUTED event). */
  applyDecision(decision: Decision): void;
  /** Periodic housekeeping: expire in-flight entries and idle sessions. */
  sweep(): void;
}

export function policyText(policy: PolicySource): { text: string; source: string } {
  if (policy.kind === "config") return { text: policy.text, source: policy.source };
  if (!isBuiltinProfile(policy.name)) {
    throw new ConfigError(
      `unknown built-in profile "${policy.name}" (have: ${Object.keys(BUILTIN_PROFILES).join(", ")})`,
    );
  }
  return {
    text: BUILTIN_PROFILES[policy.name as BuiltinProfileName],
    source: `built-in profile "${policy.name}"`,
  };
}

export function createScorerCore(opts: CoreOptions): ScorerCore {
  const now = opts.now ?? Date.now;
  const inflight = new InflightTracker({
    speculativeTtlMs: opts.speculativeTtlMs ?? 5_000,
    maxAgeMs: opts.maxInflightAgeMs ?? 600_000,
  });
  const sessions = new SessionStore();
  const prior = opts.ttftPrior ?? DEFAULT_TTFT_PRIOR;
  const ttft = new LatencyModel(
    { ...prior, tpotMs: opts.tpotPriorMs ?? 20 },
    opts.onPredictionError ? { onError: opts.onPredictionError } : {},
  );
  const trainer = new LatencyTrainer(ttft);
  const endpoints = new EndpointStore();
  const load = new LoadView(inflight, opts.metricsStalenessMs ?? 2_000);

  const { text, source } = policyText(opts.policy);
  const spec = parsePickerConfig(text, source);
  const config = buildScheduler(spec, opts.registry ?? builtinRegistry(), {
    ttft,
    latency: ttft,
    sessions,
    kvLookup: opts.kvLookup,
    tokenizer: opts.tokenizer,
  });
  const scheduler = new Scheduler(config, opts.timer);
  const picks = new PickService({
    scheduler,
    endpoints,
    load,
    inflight,
    sessions,
    now,
    ...(opts.random ? { random: opts.random } : {}),
    // Without this, run.ts's decision sync never heard of a pick (peers counted nothing early).
    ...(opts.onDecision ? { onDecision: opts.onDecision } : {}),
  });
  let lastSweep = 0;
  return {
    config,
    description: describeScheduler(config, `${source} (${spec.apiVersion})`),
    scheduler,
    endpoints,
    inflight,
    load,
    sessions,
    ttft,
    trainer,
    picks,
    applyEvent(ev) {
      const t = now();
      if (ev.phase === "routed" && ev.endpoint) {
        // Training features: the server as the router saw it, before this request counts there.
        const info = endpoints.get(ev.baseModel, ev.prefillEndpoint || ev.endpoint);
        if (info) {
          const e = load.endpoint(info, t);
          const uncached = Math.max(0, ev.promptTokens - ev.cachedTokens);
          trainer.routed(ev.requestId, ev.baseModel, profileOf(e), featuresOf(e, ev.promptTokens, uncached));
        }
      }
      const sample = inflight.apply(ev, t);
      if (sample) {
        trainer.firstToken(ev.requestId, sample.ttftMs, {
          uncachedTokens: sample.uncachedTokens,
          queuedPrefillTokens: sample.queuedPrefillTokens,
        });
      }
      if (ev.phase === "completed" || ev.phase === "failed") {
        const itl = ev.phase === "completed" ? (ev.itlMeanSeconds ?? 0) : 0;
        trainer.finished(ev.requestId, itl > 0 ? itl * 1000 : undefined);
      }
      if (ev.phase === "routed" && ev.sessionId && ev.endpoint) sessions.bind(ev.sessionId, ev.endpoint, t);
    },
    applyDecision(d) {
      const t = now();
      inflight.picked(d, t);
      if (d.sessionId) sessions.bind(d.sessionId, d.pod, t);
    },
    sweep() {
      const t = now();
      inflight.sweep(t);
      if (t - lastSweep > 10_000) {
        sessions.sweep(t, 3_600_000);
        lastSweep = t;
      }
    },
  };
}

/** Parses and builds a policy and describes it, for `inferd scorer --validate`; never throws. */
export function validatePolicy(policy: PolicySource): { ok: boolean; text: string } {
  try {
    const core = createScorerCore({ policy });
    return { ok: true, text: core.description };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, text: `error: ${err.message}\n` };
    throw err;
  }
}
