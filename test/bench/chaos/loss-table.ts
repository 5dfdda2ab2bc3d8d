import type { KvDiff } from "./kv-convergence.ts";

export interface LossFigures {
  kv: KvDiff & { convergedAfterMs: number | undefined; witnessGaps: number; witnessBatches: number };
  decisions: {
    succeeded: number;
    lost: number;
    lostByFault?: Record<string, number>;
    completedLost?: number;
    completedLostByFault?: Record<string, number>;
    storedEvents?: number;
    storedAfterMs?: number | undefined;
  };
  scaleDecisions?: { published: number; dropped: number; stored: number };
}

const seconds = (ms: number | undefined) =>
  ms === undefined ? "not within the wait" : `${(ms / 1000).toFixed(1)} s`;

/** KV events and decisions lost over a whole chaos run, as a plain-text table. Pure. */
export function renderLossTable(f: LossFigures): string {
  const converged = seconds(f.kv.convergedAfterMs);
  const d = f.decisions;
  const rows: [string, string][] = [
    ["KV blocks held by the engines (own events)", String(f.kv.engineBlocks)],
    ["KV: held but missing from the index", String(f.kv.missing)],
    ["KV: in the index but no longer held", String(f.kv.extra)],
    ["index converged after the load stopped", converged],
    ["event batches witnessed / witness gaps", `${f.kv.witnessBatches} / ${f.kv.witnessGaps}`],
    ["successful requests", String(f.decisions.succeeded)],
    ["decisions lost (no ROUTED event in INFERD_REQUESTS)", String(f.decisions.lost)],
    ...Object.entries(f.decisions.lostByFault ?? {}).map(([target, n]): [string, string] => [
      `  of which during: ${target}`,
      String(n),
    ]),
    ...(d.completedLost !== undefined
      ? [
          ["lifecycle lost (no COMPLETED event in INFERD_REQUESTS)", String(d.completedLost)] as [
            string,
            string,
          ],
        ]
      : []),
    ...Object.entries(d.completedLostByFault ?? {}).map(([target, n]): [string, string] => [
      `  of which during: ${target}`,
      String(n),
    ]),
    ...(d.storedEvents !== undefined
      ? [
          [
            "lifecycle events stored / all stored after the load",
            `${d.storedEvents} / ${seconds(d.storedAfterMs)}`,
          ] as [string, string],
        ]
      : []),
    ...(f.scaleDecisions
      ? [
          [
            "scale decisions published / stored / dropped",
            `${f.scaleDecisions.published} / ${f.scaleDecisions.stored} / ${f.scaleDecisions.dropped}`,
          ] as [string, string],
        ]
      : []),
  ];
  return renderFigureTable("loss", rows);
}

/** A two-column markdown table (label, figure) with padded columns. Pure. */
export function renderFigureTable(heading: string, rows: readonly (readonly [string, string])[]): string {
  const w = Math.max(heading.length, ...rows.map((r) => r[0].length));
  const v = Math.max(...rows.map((r) => r[1].length), "figure".length);
  return [
    `| ${heading.padEnd(w)} | ${"figure".padEnd(v)} |`,
    `| ${"-".repeat(w)} | ${"-".repeat(v)} |`,
    ...rows.map((r) => `| ${r[0].padEnd(w)} | ${r[1].padEnd(v)} |`),
  ].join("\n");
}
