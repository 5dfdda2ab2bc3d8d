/**
 * `inferd bench autoscale`: every policy on every trace, in virtual time on model-sim's step
 * engine (one engine per simulated replica). Prints the table; --json and --html write reports.
 */
import { writeFileSync } from "node:fs";
import { HELP, parseBenchArgs } from "./lib/args.ts";
import { replicaCapacity } from "./lib/calibrate.ts";
import type { Slo } from "./lib/policies.ts";
import { htmlReport, jsonReport, tableReport } from "./lib/report.ts";
import { type RunResult, runOne } from "./lib/run.ts";
import { makeTrace } from "./lib/traces.ts";
import { runLive } from "./live.ts";

let args: ReturnType<typeof parseBenchArgs>;
try {
  args = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench autoscale: ${(err as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (args.live) {
  await runLive({ startupSeconds: args.startupGiven ? args.startup : 20, baseRps: 1, phases: [60, 120, 90] });
  process.exit(0);
}

// Attainment is per request and the aim is 99%, so the SLO percentile is p99.
const slo: Slo = { ttftSeconds: 2, itlSeconds: 0.1, percentile: 0.99 };
// --quick shortens the traces; the diurnal day most (it is the longest), the others to half, so
// that a burst still lasts several replica start-ups.
const scaleOf = (trace: string) => (args.quick ? (trace === "diurnal" ? 0.2 : 0.5) : 1);
const t0 = Date.now();
const capacity = replicaCapacity(args.profile, slo, args.seed);
process.stderr.write(`one replica holds the SLO up to ${capacity.toFixed(2)} req/s (calibrated)\n`);
const runs: RunResult[] = [];
const staticBy = new Map<string, number>();
const plan: { trace: (typeof args.traces)[number]; startup: number }[] = args.traces.map((trace) => ({
  trace,
  startup: args.startup,
}));
if (args.traces.includes("burst"))
  for (const s of args.sweep) if (s !== args.startup) plan.push({ trace: "burst", startup: s });
for (const { trace: name, startup } of plan) {
  const trace = makeTrace(name, args.peak, scaleOf(name));
  const staticReplicas = Math.ceil(trace.peakRps / capacity);
  staticBy.set(name, staticReplicas);
  for (const policy of args.policies) {
    const r = runOne(
      trace,
      policy,
      { slo, maxReplicas: Math.max(staticReplicas * 2, 4), startupSeconds: startup, staticReplicas },
      // Every policy starts warm: the replicas the opening rate needs.
      {
        profile: args.profile,
        seed: args.seed,
        holdSeconds: 60,
        initialReplicas: Math.max(1, Math.ceil(trace.rate(0) / capacity)),
      },
    );
    runs.push(r);
    process.stderr.write(
      `${name} (startup ${startup} s) ${policy}: ${(r.sloAttainment * 100).toFixed(2)}% SLO, ${r.replicaHours.toFixed(2)} replica-h, ${r.scalingActions} actions (${r.requests} requests, ${r.cpuSeconds.toFixed(1)} s CPU)\n`,
    );
  }
}
const meta = {
  quick: args.quick,
  profile: args.profile,
  peakRps: args.peak,
  timeScale: args.quick ? { diurnal: 0.2, others: 0.5 } : 1,
  startupSeconds: args.startup,
  ttftSeconds: slo.ttftSeconds,
  itlSeconds: slo.itlSeconds,
  replicaCapacityRps: Math.round(capacity * 100) / 100,
  seed: args.seed,
  wallSeconds: Math.round((Date.now() - t0) / 1000),
};
const table = tableReport(runs, staticBy);
process.stdout.write(
  `\nSLO: TTFT <= ${slo.ttftSeconds} s and mean ITL <= ${slo.itlSeconds * 1000} ms per request\n${table}\n`,
);
if (args.json) writeFileSync(args.json, jsonReport(runs, meta));
if (args.html) writeFileSync(args.html, htmlReport(runs, meta, table));
process.stderr.write(`done in ${meta.wallSeconds} s\n`);
