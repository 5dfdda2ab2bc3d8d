import type { CycleState } from "./cycle.ts";
import type {
  CandidateExplanation,
  DataProducer,
  Filter,
  Picker,
  PickObserver,
  Plugin,
  ProfileHandler,
  ProfileRunResult,
  SaturationDetector,
  SchedulingResult,
  Scorer,
} from "./plugin.ts";
import type { Endpoint, ScoredEndpoint } from "./types.ts";

export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

/** Filters run in order, then the weighted scorers, then the picker. */
export interface SchedulingProfile {
  readonly name: string;
  readonly filters: readonly Filter[];
  readonly scorers: readonly WeightedScorer[];
  readonly picker: Picker;
}

export interface SchedulerConfig {
  readonly profiles: ReadonlyMap<string, SchedulingProfile>;
  readonly handler: ProfileHandler;
  readonly producers: readonly DataProducer[];
  readonly observers: readonly PickObserver[];
  readonly saturation: SaturationDetector | undefined;
  /** Every configured plugin, in config order. */
  readonly plugins: readonly Plugin[];
  /** Non-fatal remarks from parsing and building (ignored sections, unknown parameters). */
  readonly warnings: readonly string[];
}

export type ExtensionPoint = "producer" | "filter" | "scorer" | "picker" | "handler" | "observer";
/** Receives the time each plugin call took (for llm-d's plugin_duration_seconds). */
export type PluginTimer = (point: ExtensionPoint, plugin: Plugin, seconds: number) => void;

const now = (): number => performance.now();

/**
 * Runs a built configuration for one request. Pure apart from the producers, which may await I/O
 * through the plugin handle; `schedule` itself is synchronous.
 */
export class Scheduler {
  readonly config: SchedulerConfig;
  private readonly timer: PluginTimer | undefined;

  constructor(config: SchedulerConfig, timer?: PluginTimer) {
    this.config = config;
    this.timer = timer;
  }

  /** Runs data producers (tokenisation, prefix lookups) that the plugins will read. */
  async produce(cycle: CycleState, endpoints: readonly Endpoint[]): Promise<void> {
    for (const producer of this.config.producers) {
      const t0 = now();
      await producer.produce(cycle, endpoints);
      this.time("producer", producer, t0);
    }
  }

  schedule(cycle: CycleState, endpoints: readonly Endpoint[]): SchedulingResult {
    const handler = this.config.handler;
    const t0 = now();
    const result = handler.run(cycle, endpoints, (name, eps) => this.runProfile(cycle, name, eps));
    this.time("handler", handler, t0);
    return result;
  }

  /** Lets plugins record the decision (approximate prefix index, sessions). */
  observe(cycle: CycleState, result: SchedulingResult): void {
    for (const observer of this.config.observers) {
      const t0 = now();
      observer.onPicked(cycle, result);
      this.time("observer", observer, t0);
    }
  }

  /** True when a saturation detector is configured and says this endpoint cannot take more work. */
  saturated(cycle: CycleState, endpoint: Endpoint): boolean {
    return this.config.saturation?.saturated(cycle, endpoint) ?? false;
  }

  runProfile(cycle: CycleState, name: string, endpoints: readonly Endpoint[]): ProfileRunResult {
    const profile = this.config.profiles.get(name);
    if (!profile) throw new Error(`scheduling profile "${name}" does not exist`);
    const filteredBy = new Map<string, string>();
    let fallbacks: readonly Endpoint[] = [];
    let current: readonly Endpoint[] = endpoints;
    for (const filter of profile.filters) {
      // Endpoints a soft filter set aside must still pass the hard filters after it; flags raised
      // while checking them would describe the wrong set, so they are dropped.
      if (fallbacks.length > 0 && !filter.soft) {
        const flags = cycle.flags.length;
        const kept = new Set(filter.filter(cycle, fallbacks).map((e) => e.pod));
        cycle.flags.length = flags;
        fallbacks = fallbacks.filter((e) => kept.has(e.pod));
      }
      const t0 = now();
      const kept = filter.filter(cycle, current);
      this.time("filter", filter, t0);
      if (kept.length !== current.length) {
        const keep = new Set(kept.map((e) => e.pod));
        const removed = current.filter((e) => !keep.has(e.pod));
        for (const e of removed) filteredBy.set(e.pod, filter.name);
        if (filter.soft) fallbacks = [...fallbacks, ...removed];
      }
      current = kept;
      if (current.length === 0) {
        return {
          profile: name,
          picked: [],
          candidates: explain(endpoints, filteredBy, []),
          emptiedBy: filter.name,
        };
      }
    }

    const scored = this.score(cycle, profile, current);
    const t0 = now();
    let picked = profile.picker.pick(cycle, scored);
    this.time("picker", profile.picker, t0);
    let all = scored;
    // Endpoints a soft filter set aside are still valid targets: list them after the picked ones,
    // best first, for the gateway's fallback (only up to the picker's own count, if it caps one).
    if (fallbacks.length > 0 && picked.length === scored.length) {
      const extra = this.score(cycle, profile, fallbacks);
      extra.sort((a, b) => b.total - a.total);
      picked = [...picked, ...extra];
      all = [...scored, ...extra];
    }
    return { profile: name, picked, candidates: explain(endpoints, filteredBy, all), emptiedBy: undefined };
  }

  private score(
    cycle: CycleState,
    profile: SchedulingProfile,
    current: readonly Endpoint[],
  ): ScoredEndpoint[] {
    // Positions instead of per-pod maps for the running totals: same sums in the same order.
    const n = current.length;
    const totals = new Float64Array(n);
    const perPod = current.map(() => new Map<string, number>());
    let weightSum = 0;
    for (const { scorer, weight } of profile.scorers) {
      weightSum += weight;
      const t0 = now();
      const scores = scorer.score(cycle, current);
      this.time("scorer", scorer, t0);
      for (let i = 0; i < n; i++) {
        const raw = scores.get(current[i]!.pod);
        if (raw === undefined || Number.isNaN(raw)) continue;
        const s = Math.max(0, Math.min(1, raw));
        perPod[i]!.set(scorer.name, s);
        totals[i]! += weight * s;
      }
    }
    return current.map((endpoint, i) => ({
      endpoint,
      total: weightSum > 0 ? totals[i]! / weightSum : 0,
      scores: perPod[i]!,
    }));
  }

  private time(point: ExtensionPoint, plugin: Plugin, t0: number): void {
    if (this.timer) this.timer(point, plugin, (now() - t0) / 1000);
  }
}

function explain(
  endpoints: readonly Endpoint[],
  filteredBy: ReadonlyMap<string, string>,
  scored: readonly ScoredEndpoint[],
): CandidateExplanation[] {
  const byPod = new Map(scored.map((s) => [s.endpoint.pod, s]));
  return endpoints.map((e) => {
    const s = byPod.get(e.pod);
    return {
      pod: e.pod,
      scores: s?.scores ?? new Map<string, number>(),
      total: s?.total ?? 0,
      filteredBy: filteredBy.get(e.pod) ?? "",
    };
  });
}
