/** The terminal table, the --json document (the format) and the HTML report. */
import { escapeXml, lineChart } from "../../routing/lib/report/svg.ts";
import type { RunResult } from "./run.ts";

export function jsonReport(runs: readonly RunResult[], meta: Record<string, unknown>): string {
  const traces: Record<string, Record<string, unknown>> = {};
  const sweep: Record<string, unknown>[] = [];
  for (const r of runs) {
    const figures = {
      slo_attainment: round(r.sloAttainment, 4),
      replica_hours: round(r.replicaHours, 2),
      scaling_actions: r.scalingActions,
      ...(r.recoverySeconds !== undefined ? { recovery_seconds: Math.round(r.recoverySeconds) } : {}),
      requests: r.requests,
    };
    if (r.startupSeconds !== meta.startupSeconds) {
      sweep.push({ trace: r.trace, policy: r.policy, startup_seconds: r.startupSeconds, ...figures });
      continue;
    }
    traces[r.trace] ??= {};
    traces[r.trace]![r.policy] = figures;
  }
  return `${JSON.stringify({ traces, ...(sweep.length ? { startup_sweep: sweep } : {}), meta }, null, 2)}\n`;
}

export function tableReport(runs: readonly RunResult[], staticByTrace: ReadonlyMap<string, number>): string {
  const head = [
    "trace",
    "startup s",
    "policy",
    "SLO attainment",
    "replica-h",
    "vs static",
    "actions",
    "burst recovery s",
  ];
  const rows = runs.map((r) => {
    const st = runs.find(
      (x) => x.trace === r.trace && x.policy === "static-peak" && x.startupSeconds === r.startupSeconds,
    );
    return [
      r.trace,
      String(r.startupSeconds),
      r.policy,
      `${(r.sloAttainment * 100).toFixed(2)}%`,
      r.replicaHours.toFixed(2),
      st ? `${Math.round((r.replicaHours / st.replicaHours) * 100)}%` : "",
      String(r.scalingActions),
      r.recoverySeconds === undefined ? "" : String(Math.round(r.recoverySeconds)),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  const statics = [...staticByTrace].map(([t, n]) => `${t} ${n}`).join(", ");
  return [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `static-peak replicas per trace: ${statics}`,
  ].join("\n");
}

export function htmlReport(runs: readonly RunResult[], meta: Record<string, unknown>, table: string): string {
  const sections: string[] = [];
  const traces = [...new Set(runs.map((r) => `${r.trace}@${r.startupSeconds}`))];
  for (const key of traces) {
    const [trace, startup] = key.split("@");
    const rs = runs.filter((r) => r.trace === trace && String(r.startupSeconds) === startup);
    const minutes = (t: number) => t / 60;
    const load = lineChart({
      title: `${trace}: arrival rate (startup ${startup} s)`,
      xLabel: "minutes",
      yLabel: "req/s",
      series: [{ name: "arrivals", points: rs[0]!.timeline.map((p) => [minutes(p.t), p.rps] as const) }],
    });
    const replicas = lineChart({
      title: `${trace}: replicas (ready + starting)`,
      xLabel: "minutes",
      yLabel: "replicas",
      series: rs.map((r) => ({
        name: r.policy,
        points: r.timeline.map((p) => [minutes(p.t), p.replicas] as const),
      })),
    });
    const ttft = lineChart({
      title: `${trace}: TTFT p90 per 30 s (by arrival)`,
      xLabel: "minutes",
      yLabel: "seconds",
      logY: true,
      limit: { y: Number(meta.ttftSeconds), label: "SLO" },
      series: rs.map((r) => ({
        name: r.policy,
        points: r.timeline.filter((p) => p.ttftP90 > 0).map((p) => [minutes(p.t), p.ttftP90] as const),
      })),
    });
    sections.push(
      `<h2>${escapeXml(trace!)} (replica start-up ${startup} s)</h2>\n${load}\n${replicas}\n${ttft}`,
    );
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>inferd bench autoscale</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}pre{background:#f4f4f4;padding:1em;overflow:auto}</style>
</head><body><h1>inferd bench autoscale</h1>
<p>${escapeXml(JSON.stringify(meta))}</p>
<pre>${escapeXml(table)}</pre>
${sections.join("\n")}
</body></html>\n`;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
