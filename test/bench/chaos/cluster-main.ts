#!/usr/bin/env node
/**
 * `inferd bench chaos --cluster`: the cluster run of cluster-run.ts with its figures.
 * Wiring only: flags -> runClusterChaos -> tables (and --json).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runClusterChaos } from "./cluster-run.ts";
import { renderTable } from "./figures.ts";
import { renderLossTable } from "./loss-table.ts";

export const CLUSTER_HELP = `inferd bench chaos --cluster [options]
  3-node NATS cluster (R3 streams and bucket) + Redis Cluster (3 primaries, 1 replica each):
  kill -9 the NATS node leading the KV-event stream, then the Redis primary of the model's shard
  --sims N          model servers, one process each (default 4)
  --clients N       concurrent closed-loop clients (default 8)
  --before N        successful requests before each kill (default 200)
  --after N         successful requests after the fault healed (default 200)
  --replicas        also run 2 gateways and 2 scorers and kill one of each
  --json FILE       also write the figures as JSON
`;

export async function clusterMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      cluster: { type: "boolean", default: true },
      sims: { type: "string", default: "4" },
      clients: { type: "string", default: "8" },
      before: { type: "string", default: "200" },
      after: { type: "string", default: "200" },
      replicas: { type: "boolean", default: false },
      json: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(CLUSTER_HELP);
    return 0;
  }
  const result = await runClusterChaos({
    sims: Number(values.sims),
    clients: Number(values.clients),
    before: Number(values.before),
    after: Number(values.after),
    replicas: values.replicas,
    convergeTimeoutMs: 30_000,
    log: (line) => process.stdout.write(`chaos: ${line}\n`),
  });
  process.stdout.write(`\n${renderTable(result.faults)}\n\n${renderLossTable(result)}\n`);
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
  return 0;
}
