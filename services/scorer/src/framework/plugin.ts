import type { CycleState } from "./cycle.ts";
import type { Endpoint, PickOutcome, ScoredEndpoint } from "./types.ts";

/**
 * Extension points of the scheduler, after GIE's `plugins.go`: small interfaces, one method each.
 * Every plugin has a type (the registered type name, llm-d's where one exists) and an instance name
 * (from the config; defaults to the type).
 */
export interface Plugin {
  readonly type: string;
  readonly name: string;
  /** Per-request data the plugin reads; the builder adds a default producer for anything missing. */
  readonly requires?: readonly DataKey[];
  /** Per-request data the plugin (a producer) writes into the cycle. */
  readonly provides?: readonly DataKey[];
}

/** `tokens`: cycle.tokens/promptTokens; `prefix`: cycle.prefix. */
export type DataKey = "tokens" | "prefix";

/** Keeps a subset of the endpoints. Returning none makes the profile fail for this request. */
export interface Filter extends Plugin {
  /** Outcome to report when this filter leaves nothing (default NO_ENDPOINTS). */
  readonly emptyOutcome?: PickOutcome;
  /**
   * A preference, not a constraint: endpoints it removes stay in the answer as fallbacks, after the
   * picked ones (so the gateway can still fall back to them when the preferred endpoints fail).
   */
  readonly soft?: boolean;
  filter(cycle: CycleState, endpoints: readonly Endpoint[]): readonly Endpoint[];
}

/** Scores lie in [0, 1], 1 best. An endpoint missing from the map is unscored (contributes nothing). */
export interface Scorer extends Plugin {
  score(cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number>;
}

/** Orders scored endpoints, best first; may return fewer (maxNumOfEndpoints). */
export interface Picker extends Plugin {
  pick(cycle: CycleState, scored: readonly ScoredEndpoint[]): ScoredEndpoint[];
}

/** Computes per-request data (tokens, prefix matches) before any profile runs. May do I/O through the handle. */
export interface DataProducer extends Plugin {
  produce(cycle: CycleState, endpoints: readonly Endpoint[]): Promise<void> | void;
}

/** Called once the scheduler has chosen, before the request is sent (llm-d's PreRequest). */
export interface PickObserver extends Plugin {
  onPicked(cycle: CycleState, result: SchedulingResult): void;
}

/** Result of running one scheduling profile. */
export interface ProfileRunResult {
  readonly profile: string;
  /** Picked endpoints, best first; empty when the profile found none. */
  readonly picked: readonly ScoredEndpoint[];
  /** Every endpoint that entered the profile, with its scores or the filter that removed it. */
  readonly candidates: readonly CandidateExplanation[];
  /** Filter that left nothing, when `picked` is empty because of it. */
  readonly emptiedBy: string | undefined;
}

export interface CandidateExplanation {
  readonly pod: string;
  readonly scores: ReadonlyMap<string, number>;
  readonly total: number;
  readonly filteredBy: string;
}

export type ProfileRunner = (profile: string, endpoints: readonly Endpoint[]) => ProfileRunResult;

export interface SchedulingResult {
  /** Profile whose picks are the primary targets (the decode profile under P/D). */
  readonly primary: ProfileRunResult;
  /** Prefill profile result when the request is disaggregated. */
  readonly prefill: ProfileRunResult | undefined;
  /** All profiles that ran, in order. */
  readonly profiles: readonly ProfileRunResult[];
  /** Set by a profile handler that refuses the request (e.g. P/D required but no prefill server). */
  readonly refusal: { outcome: "PD_UNAVAILABLE" | "NO_ENDPOINTS"; message: string } | undefined;
}

/** Chooses which profiles run and assembles their results (single, P/D...). */
export interface ProfileHandler extends Plugin {
  /** Checked at build time: the profile names the handler needs must exist. */
  validate(profileNames: readonly string[]): void;
  run(cycle: CycleState, endpoints: readonly Endpoint[], runProfile: ProfileRunner): SchedulingResult;
}

/** Decides whether a request is disaggregated, given the decode endpoint chosen. */
export interface PdDecider extends Plugin {
  disaggregate(cycle: CycleState, decode: Endpoint): boolean;
}

/** Says whether an endpoint can take more work; SATURATED when none can. */
export interface SaturationDetector extends Plugin {
  saturated(cycle: CycleState, endpoint: Endpoint): boolean;
}

export function isFilter(p: Plugin): p is Filter {
  return typeof (p as Partial<Filter>).filter === "function";
}
export function isScorer(p: Plugin): p is Scorer {
  return typeof (p as Partial<Scorer>).score === "function";
}
export function isPicker(p: Plugin): p is Picker {
  return typeof (p as Partial<Picker>).pick === "function";
}
export function isProducer(p: Plugin): p is DataProducer {
  return typeof (p as Partial<DataProducer>).produce === "function";
}
export function isPickObserver(p: Plugin): p is PickObserver {
  return typeof (p as Partial<PickObserver>).onPicked === "function";
}
export function isProfileHandler(p: Plugin): p is ProfileHandler {
  return typeof (p as Partial<ProfileHandler>).run === "function";
}
export function isPdDecider(p: Plugin): p is PdDecider {
  return typeof (p as Partial<PdDecider>).disaggregate === "function";
}
export function isSaturationDetector(p: Plugin): p is SaturationDetector {
  return typeof (p as Partial<SaturationDetector>).saturated === "function";
}
