import type { Arrivals, Stage, WorkloadSpec } from "./options.ts";
import { hashString, Prng } from "./prng.ts";
import { wordText } from "./text.ts";
import { Zipf } from "./zipf.ts";

/**
 * The pre-generated request trace: every policy replays exactly these requests at exactly these
 * offsets. Long unique texts (control prompts, chat questions) are kept as a seed and a length and
 * made only when sent, so a long trace stays small in memory and still identical across policies.
 */
export type TextRef = string | { readonly seed: number; readonly tokens: number };

export interface TraceRequest {
  /** Position in the whole trace (warm-up first). */
  readonly index: number;
  /** Index into Trace.stages. */
  readonly stage: number;
  /** Seconds after the stage starts. */
  readonly at: number;
  /** Prefix group (the oracle's placement key); -1 when the request shares nothing (control). */
  readonly group: number;
  /** The group's shared system prompt (the same string for the whole group), or null. */
  readonly system: string | null;
  /** The unique part: a question, or the whole prompt of a control request. */
  readonly user: TextRef;
  /** Multi-turn: conversation id and turn (0 = first). Earlier answers are prepended when sent. */
  readonly session: { readonly id: number; readonly turn: number } | null;
  /** Exact tokens of system + user as text (chat templates and chat history come on top). */
  readonly textTokens: number;
  readonly maxTokens: number;
}

export interface TraceStage {
  readonly name: string;
  readonly rate: number;
  readonly duration: number;
  readonly warmup: boolean;
  readonly requests: readonly TraceRequest[];
}

export interface Trace {
  readonly workload: WorkloadSpec;
  readonly seed: number;
  readonly stages: readonly TraceStage[];
  /** Expected share of requests per group (uniform unless --group-skew). Empty for control. */
  readonly groupWeights: readonly number[];
}

export interface TraceInput {
  readonly workload: WorkloadSpec;
  readonly warmup: Stage | null;
  readonly ladder: readonly Stage[];
  readonly arrivals: Arrivals;
  readonly seed: number;
}

/** Poisson arrival offsets (seconds) in [0, duration) at `rate` per second. */
export function poissonArrivals(rng: Prng, rate: number, duration: number): number[] {
  if (!(rate > 0) || !(duration > 0)) throw new RangeError(`poissonArrivals: rate and duration must be > 0`);
  const out: number[] = [];
  for (let t = rng.exp(rate); t < duration; t += rng.exp(rate)) out.push(t);
  return out;
}

/** Evenly spaced offsets (inference-perf `constant` load). */
export function constantArrivals(rate: number, duration: number): number[] {
  if (!(rate > 0) || !(duration > 0)) throw new RangeError(`constantArrivals: rate and duration must be > 0`);
  const out: number[] = [];
  for (let i = 0; i / rate < duration; i++) out.push(i / rate);
  return out;
}

/** Turns a TextRef into text. */
export function materialize(ref: TextRef, words: readonly string[]): string {
  return typeof ref === "string" ? ref : wordText(new Prng(ref.seed), words, ref.tokens);
}

interface Pick {
  group: number;
  user: TextRef;
  session: { id: number; turn: number } | null;
  textTokens: number;
}

/** Chooses what each successive request asks, for one workload kind. */
type Picker = (index: number) => Pick;

function sharedPrefixPicker(w: WorkloadSpec, seed: number, rng: Prng, words: readonly string[]) {
  const textRng = new Prng(`${seed}/questions`);
  const questions: string[][] = [];
  for (let g = 0; g < w.numGroups; g++) {
    const qs: string[] = [];
    for (let u = 0; u < w.numPromptsPerGroup; u++) qs.push(wordText(textRng, words, w.questionLen));
    questions.push(qs);
  }
  const textTokens = w.systemPromptLen + w.questionLen;
  if (w.groupSkew > 0) {
    // Popularity rank -> group through a random permutation, so group 0 is not always the hottest.
    const zipf = new Zipf(w.numGroups, w.groupSkew);
    const rankToGroup = rng.shuffle(Array.from({ length: w.numGroups }, (_, g) => g));
    const weights = new Array<number>(w.numGroups).fill(0);
    rankToGroup.forEach((g, rank) => {
      weights[g] = zipf.probability(rank);
    });
    const nextQuestion = new Array<number>(w.numGroups).fill(0);
    const pick: Picker = () => {
      const g = rankToGroup[zipf.sample(rng)]!;
      const u = nextQuestion[g]!++ % w.numPromptsPerGroup;
      return { group: g, user: questions[g]![u]!, session: null, textTokens };
    };
    return { pick, weights };
  }
  // inference-perf: all prompts, shuffled, sent in order; reshuffled when the list is used up.
  const all: Array<[number, number]> = [];
  for (let g = 0; g < w.numGroups; g++) for (let u = 0; u < w.numPromptsPerGroup; u++) all.push([g, u]);
  let order: Array<[number, number]> = [];
  let pos = 0;
  const pick: Picker = () => {
    if (pos >= order.length) {
      order = rng.shuffle(all.slice());
      pos = 0;
    }
    const [g, u] = order[pos++]!;
    return { group: g, user: questions[g]![u]!, session: null, textTokens };
  };
  return { pick, weights: new Array<number>(w.numGroups).fill(1 / w.numGroups) };
}

function multiTurnPicker(w: WorkloadSpec, seed: number, rng: Prng) {
  // Every user of every group holds one conversation of `turns` turns. A round asks every user's
  // turn 0 (in a shuffled order), then every turn 1 in the same order, ... so a user's next turn comes
  // numGroups × numPromptsPerGroup requests after the previous one, long after its answer arrived.
  const users = w.numGroups * w.numPromptsPerGroup;
  let order: number[] = [];
  let round = -1;
  let pos = users * w.turns;
  const pick: Picker = () => {
    if (pos >= users * w.turns) {
      order = rng.shuffle(Array.from({ length: users }, (_, i) => i));
      round++;
      pos = 0;
    }
    const turn = Math.floor(pos / users);
    const user = order[pos % users]!;
    pos++;
    const id = round * users + user;
    return {
      group: Math.floor(user / w.numPromptsPerGroup),
      user: { seed: hashString(`${seed}/chat/${id}/${turn}`), tokens: w.questionLen },
      session: { id, turn },
      textTokens: w.systemPromptLen + w.questionLen,
    };
  };
  return { pick, weights: new Array<number>(w.numGroups).fill(1 / w.numGroups) };
}

function controlPicker(w: WorkloadSpec, seed: number): { pick: Picker; weights: number[] } {
  // Nothing shared: every request is one unique prompt as long as a shared-prefix prompt.
  const tokens = w.systemPromptLen + w.questionLen;
  const pick: Picker = (index) => ({
    group: -1,
    user: { seed: hashString(`${seed}/control/${index}`), tokens },
    session: null,
    textTokens: tokens,
  });
  return { pick, weights: [] };
}

/** Builds the whole trace: system prompts, the request sequence and the Poisson schedule of every stage. */
export function buildTrace(input: TraceInput, words: readonly string[]): Trace {
  const w = input.workload;
  const root = new Prng(input.seed);
  const arrivals = root.fork("arrivals");
  const choice = root.fork("choice");
  const systemRng = new Prng(`${input.seed}/system`);
  const systems: string[] =
    w.kind === "control"
      ? []
      : Array.from({ length: w.numGroups }, () => wordText(systemRng, words, w.systemPromptLen));
  const { pick, weights } =
    w.kind === "control"
      ? controlPicker(w, input.seed)
      : w.kind === "multi-turn"
        ? multiTurnPicker(w, input.seed, choice)
        : sharedPrefixPicker(w, input.seed, choice, words);
  const plan: Array<{ name: string; stage: Stage; warmup: boolean }> = [];
  if (input.warmup) plan.push({ name: "warm-up", stage: input.warmup, warmup: true });
  input.ladder.forEach((s, i) => {
    plan.push({ name: `stage ${i + 1}`, stage: s, warmup: false });
  });
  let index = 0;
  const stages: TraceStage[] = plan.map((p, stageIndex) => {
    const offsets =
      input.arrivals === "constant"
        ? constantArrivals(p.stage.rate, p.stage.duration)
        : poissonArrivals(arrivals, p.stage.rate, p.stage.duration);
    const requests: TraceRequest[] = offsets.map((at) => {
      const c = pick(index);
      return {
        index: index++,
        stage: stageIndex,
        at,
        group: c.group,
        system: c.group >= 0 ? systems[c.group]! : null,
        user: c.user,
        session: c.session,
        textTokens: c.textTokens,
        maxTokens: w.outputLen,
      };
    });
    return { name: p.name, rate: p.stage.rate, duration: p.stage.duration, warmup: p.warmup, requests };
  });
  return { workload: w, seed: input.seed, stages, groupWeights: weights };
}

/**
 * The oracle's placement: each group on one server, heaviest groups first onto the least-loaded
 * server (longest-processing-time greedy). With uniform popularity this is a round-robin of groups.
 */
export function oraclePlacement(groupWeights: readonly number[], servers: number): number[] {
  if (!Number.isInteger(servers) || servers <= 0)
    throw new RangeError(`oraclePlacement: servers must be > 0`);
  const load = new Array<number>(servers).fill(0);
  const groups = new Array<number>(servers).fill(0);
  const placement = new Array<number>(groupWeights.length).fill(0);
  const order = groupWeights.map((wt, g) => [wt, g] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [wt, g] of order) {
    // Least expected load; on a tie, fewest groups (so even never-chosen groups spread out).
    let best = 0;
    for (let s = 1; s < servers; s++) {
      if (
        load[s]! < load[best]! - 1e-12 ||
        (Math.abs(load[s]! - load[best]!) <= 1e-12 && groups[s]! < groups[best]!)
      )
        best = s;
    }
    placement[g] = best;
    load[best]! += wt;
    groups[best]!++;
  }
  return placement;
}
