/**
 * --matrix: one Markdown table from several runs' --json files, one labelled scenario each (the
 * scenario matrix of issue 16). Pure: takes the parsed documents.
 */

/** The parts of a --json document (renderJson) the matrix reads. */
export interface MatrixDoc {
  readonly meta: { readonly startedAt: string; readonly finishedAt: string };
  readonly policies: Record<
    string,
    {
      readonly slo_capacity_rps: number | null;
      readonly slo_capacity_interpolated_rps: number | null;
      readonly slo_capacity_censored: boolean;
      readonly cache_hit_rate: number | null;
      readonly routing_cpu_ms_per_request: number | null;
      readonly error: string | null;
      readonly ttft_p50_s: Record<string, number | null>;
      readonly ttft_p90_s: Record<string, number | null>;
      readonly success_rate: Record<string, number | null>;
      readonly stage_env: readonly { readonly loadAvg1?: number | null }[];
    }
  >;
}

export interface MatrixScenario {
  readonly label: string;
  readonly doc: MatrixDoc;
}

/** Rows that get the capacity ratios: inferd with the scorer over NATS and with it in the gateway. */
const INFERD_POLICIES: ReadonlySet<string> = new Set(["inferd", "inferd-embedded"]);

const f = (v: number | null | undefined, d = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(d);

/** a / b as "1.50", "-" when either is missing or b is 0. */
function ratio(a: number | null, b: number | null): string {
  return a !== null && b !== null && Number.isFinite(a) && Number.isFinite(b) && b > 0
    ? (a / b).toFixed(2)
    : "-";
}

/** Values per rate key in ascending rate order, joined with " / ". */
function perRate(
  m: Record<string, number | null>,
  rates: readonly string[],
  fmt: (v: number | null) => string,
) {
  return rates.map((r) => (r in m ? fmt(m[r]!) : "-")).join(" / ");
}

/**
 * Rows: scenario, policy, SLO capacity (interpolated), TTFT p50 and p90 per rate, success per rate,
 * hit rate, routing-tier CPU per request, capacity ratios inferd / approx-prefix and inferd / oracle on
 * the rows of `inferd` and `inferd-embedded` (interpolated capacities in brackets), and the 1-minute load average over the policy's stages.
 */
export function matrixTable(scenarios: readonly MatrixScenario[]): string {
  const rates = [
    ...new Set(
      scenarios.flatMap((s) => Object.values(s.doc.policies).flatMap((p) => Object.keys(p.ttft_p90_s))),
    ),
  ].sort((a, b) => Number(a) - Number(b));
  const head = [
    "scenario",
    "policy",
    "SLO cap (interp)",
    `TTFT p50 s @ ${rates.join(" / ")}`,
    `TTFT p90 s @ ${rates.join(" / ")}`,
    "success %",
    "hit",
    "route CPU ms/req",
    "inferd / approx",
    "inferd / oracle",
    "load avg",
  ];
  const rows: string[][] = [];
  for (const { label, doc } of scenarios) {
    for (const [name, p] of Object.entries(doc.policies)) {
      const loads = p.stage_env.map((e) => e.loadAvg1).filter((x): x is number => typeof x === "number");
      const cap =
        p.slo_capacity_rps === null
          ? "-"
          : `${p.slo_capacity_censored ? "≥" : ""}${f(p.slo_capacity_rps, 0)} (${f(p.slo_capacity_interpolated_rps, 1)})`;
      const vs = (other: string) => {
        const o = doc.policies[other];
        if (!INFERD_POLICIES.has(name) || o === undefined) return "";
        return `${ratio(p.slo_capacity_rps, o.slo_capacity_rps)} (${ratio(p.slo_capacity_interpolated_rps, o.slo_capacity_interpolated_rps)})`;
      };
      rows.push([
        label,
        name,
        p.error !== null && p.stage_env.length === 0 ? `failed: ${p.error}` : cap,
        perRate(p.ttft_p50_s, rates, (v) => f(v)),
        perRate(p.ttft_p90_s, rates, (v) => f(v)),
        perRate(p.success_rate, rates, (v) => (v === null ? "-" : (v * 100).toFixed(1))),
        p.cache_hit_rate === null ? "-" : `${(p.cache_hit_rate * 100).toFixed(1)} %`,
        f(p.routing_cpu_ms_per_request, 1),
        vs("approx-prefix"),
        vs("oracle"),
        loads.length === 0 ? "-" : `${Math.min(...loads).toFixed(0)}-${Math.max(...loads).toFixed(0)}`,
      ]);
    }
  }
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
