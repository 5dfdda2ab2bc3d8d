import { describe, expect, test } from "vitest";
import { type MatrixDoc, matrixTable } from "../../../lib/report/matrix.ts";

function policy(cap: number, interp: number, ttft90: Record<string, number | null>, hit: number) {
  return {
    slo_capacity_rps: cap,
    slo_capacity_interpolated_rps: interp,
    slo_capacity_censored: false,
    cache_hit_rate: hit,
    routing_cpu_ms_per_request: 12.345,
    error: null,
    ttft_p50_s: Object.fromEntries(Object.keys(ttft90).map((k) => [k, 0.1])),
    ttft_p90_s: ttft90,
    success_rate: Object.fromEntries(Object.keys(ttft90).map((k) => [k, 0.995])),
    stage_env: [{ loadAvg1: 3.2 }, { loadAvg1: 7.9 }, { loadAvg1: null }],
  };
}

const doc: MatrixDoc = {
  meta: { startedAt: "a", finishedAt: "b" },
  policies: {
    "approx-prefix": policy(4, 5, { "4": 0.5, "8": 3 }, 0.8),
    inferd: policy(8, 9, { "4": 0.4, "8": 1, "12": 4 }, 0.9),
    oracle: policy(8, 10, { "4": 0.3, "8": 0.9, "12": 3 }, 0.95),
  },
};

describe("bench matrix", () => {
  test("bench matrix - one Markdown row per scenario and policy, rates in order, ratios on inferd's row", () => {
    const lines = matrixTable([{ label: "KV pressure", doc }]).split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toContain("TTFT p90 s @ 4 / 8 / 12");
    const inferd = lines.find((l) => l.includes("| inferd |"))!;
    expect(inferd).toContain("| 8 (9.0) |");
    expect(inferd).toContain("| 0.40 / 1.00 / 4.00 |");
    expect(inferd).toContain("| 99.5 / 99.5 / 99.5 |");
    expect(inferd).toContain("| 90.0 % | 12.3 |");
    // inferd / approx-prefix 8 / 4 (interp 9 / 5); inferd / oracle 8 / 8 (9 / 10).
    expect(inferd).toContain("| 2.00 (1.80) | 1.00 (0.90) | 3-8 |");
    const approx = lines.find((l) => l.includes("| approx-prefix |"))!;
    // A rate the policy did not reach is "-"; no ratio on other policies' rows.
    expect(approx).toContain("| 0.50 / 3.00 / - |");
    expect(approx).toContain("|  |  |");
  });

  test("bench matrix - inferd-embedded's row gets the ratios too", () => {
    const embedded: MatrixDoc = {
      ...doc,
      policies: {
        "approx-prefix": doc.policies["approx-prefix"]!,
        "inferd-embedded": doc.policies.inferd!,
        oracle: doc.policies.oracle!,
      },
    };
    const row = matrixTable([{ label: "KV eviction", doc: embedded }])
      .split("\n")
      .find((l) => l.includes("| inferd-embedded |"))!;
    expect(row).toContain("| 2.00 (1.80) | 1.00 (0.90) | 3-8 |");
  });
});
