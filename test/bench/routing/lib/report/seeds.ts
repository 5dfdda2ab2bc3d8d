/**
 * --seeds: the same comparison run once per trace seed; per policy the mean, min-max and sample
 * standard deviation of SLO capacity, TTFT p90 (per rate), hit rate and routing-tier CPU.
 */
import type { Policy } from "../options.ts";
import { rateKey } from "./json.ts";
import type { BenchMeta, PolicySummary } from "./model.ts";
import { columns } from "./table.ts";

export interface Spread {
  /** Seeds with a finite value (a policy that failed a seed has NaN there). */
  readonly n: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** Sample standard deviation (n - 1); NaN below two values. */
  readonly stdev: number;
}

/** Mean, min, max and sample stdev of the finite values. */
export function spread(values: readonly number[]): Spread {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  if (n === 0) return { n, mean: Number.NaN, min: Number.NaN, max: Number.NaN, stdev: Number.NaN };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const stdev = n < 2 ? Number.NaN : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { n, mean, min: Math.min(...v), max: Math.max(...v), stdev };
}

export interface SeedRun {
  readonly seed: number;
  readonly meta: BenchMeta;
  readonly summaries: readonly PolicySummary[];
}

export interface PolicySpread {
  readonly policy: Policy;
  /** Seeds the policy ran in. */
  readonly seeds: readonly number[];
  readonly capacity: Spread;
  readonly capacityInterpolated: Spread;
  /** Seeds in which the policy passed every rate (its capacity is censored by the ladder). */
  readonly censoredSeeds: number;
  /** TTFT p90 (s) per rate key ("8", "12.5"), over the seeds that measured that rate. */
  readonly ttftP90: Readonly<Record<string, Spread>>;
  readonly ttftP50: Readonly<Record<string, Spread>>;
  readonly cacheHitRate: Spread;
  readonly routingCpuMsPerRequest: Spread;
  readonly ratioToApproxPrefix: Spread;
  readonly ratioToOracle: Spread;
}

/** Per policy (in first-seen order), the spread over the seeds' summaries. */
export function seedSpread(runs: readonly SeedRun[]): PolicySpread[] {
  const policies: Policy[] = [];
  for (const r of runs)
    for (const s of r.summaries) if (!policies.includes(s.policy)) policies.push(s.policy);
  return policies.map((policy) => {
    const rows = runs.flatMap((r) => {
      const s = r.summaries.find((x) => x.policy === policy);
      return s === undefined ? [] : [{ seed: r.seed, s }];
    });
    const rates = [...new Set(rows.flatMap(({ s }) => s.measured.map((m) => m.rate)))].sort((a, b) => a - b);
    const atRate = (f: (m: PolicySummary["measured"][number]) => number) =>
      Object.fromEntries(
        rates.map((rate) => [
          rateKey(rate),
          spread(
            rows.map(({ s }) => s.measured.find((m) => m.rate === rate)).flatMap((m) => (m ? [f(m)] : [])),
          ),
        ]),
      );
    // A run that failed (stack never served) has no capacity of its own: leave it out rather than count 0.
    const ok = rows.filter(({ s }) => s.run.error === null || s.measured.length > 0);
    return {
      policy,
      seeds: rows.map((r) => r.seed),
      capacity: spread(ok.map(({ s }) => s.capacity.rps)),
      capacityInterpolated: spread(ok.map(({ s }) => s.capacity.interpolatedRps)),
      censoredSeeds: ok.filter(({ s }) => s.capacity.censored).length,
      ttftP90: atRate((m) => m.ttft.p90),
      ttftP50: atRate((m) => m.ttft.p50),
      cacheHitRate: spread(rows.map(({ s }) => s.cacheHitRate)),
      routingCpuMsPerRequest: spread(rows.map(({ s }) => s.routingCpuMsPerRequest)),
      ratioToApproxPrefix: spread(rows.map(({ s }) => s.ratioToApproxPrefix)),
      ratioToOracle: spread(rows.map(({ s }) => s.ratioToOracle)),
    };
  });
}

/** "12.0 [8.0-16.0]": mean and range; "-" when no seed measured it. */
export function fmtSpread(s: Spread, digits = 2, scale = 1): string {
  if (s.n === 0) return "-";
  const f = (v: number) => (v * scale).toFixed(digits);
  return s.n === 1 || s.min === s.max ? f(s.mean) : `${f(s.mean)} [${f(s.min)}-${f(s.max)}]`;
}

/** The spread table (mean [min-max] over the seeds; ± = sample stdev of the capacity). */
export function spreadTable(spreads: readonly PolicySpread[], seeds: readonly number[]): string {
  const rates = [...new Set(spreads.flatMap((p) => Object.keys(p.ttftP90)))].sort(
    (a, b) => Number(a) - Number(b),
  );
  const rows: string[][] = [
    [
      "policy",
      "SLO cap rps",
      "± sd",
      "interp",
      ...rates.map((r) => `TTFT p90 s @${r}`),
      "cache hit %",
      "route CPU ms/req",
      "x approx-prefix",
      "x oracle",
      "seeds",
    ],
  ];
  for (const p of spreads) {
    rows.push([
      p.policy,
      `${p.censoredSeeds > 0 ? ">=" : ""}${fmtSpread(p.capacity, 1)}`,
      Number.isFinite(p.capacity.stdev) ? p.capacity.stdev.toFixed(2) : "-",
      fmtSpread(p.capacityInterpolated, 1),
      ...rates.map((r) => (p.ttftP90[r] ? fmtSpread(p.ttftP90[r]!) : "-")),
      fmtSpread(p.cacheHitRate, 1, 100),
      fmtSpread(p.routingCpuMsPerRequest, 1),
      fmtSpread(p.ratioToApproxPrefix),
      fmtSpread(p.ratioToOracle),
      p.seeds.join(","),
    ]);
  }
  return `Spread over seeds ${seeds.join(", ")}: mean [min-max]; ">=" = censored by the ladder in some seed\n${columns(rows)}`;
}

/** JSON with NaN/Infinity as null. */
function finite(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}

/** The --json document of a multi-seed run: the spread, and each seed's own document. */
export function renderSeedsJson(runs: readonly SeedRun[], perSeed: readonly unknown[]): string {
  const spreads = seedSpread(runs);
  return `${JSON.stringify(
    {
      seeds: runs.map((r) => r.seed),
      spread: Object.fromEntries(spreads.map((p) => [p.policy, p])),
      per_seed: perSeed,
    },
    finite,
    2,
  )}\n`;
}
