import { describe, expect, it } from "vitest";
import { runClusterChaos } from "../bench/chaos/cluster-run.ts";
import { renderTable } from "../bench/chaos/figures.ts";
import { renderLossTable } from "../bench/chaos/loss-table.ts";

/**
 * Short form of `inferd bench chaos --cluster`: an `inferd up` stack on a 3-node NATS cluster
 * (R3 streams and bucket) and a Redis Cluster (3 primaries + replicas), 2 gateways and 2 scorers.
 * Under load, kill -9 the NATS node leading the KV-event stream, the Redis primary of the model's
 * shard, then one gateway and one scorer. The stack keeps serving through NATS and Redis failover
 * and a scorer's death; every block the engines hold reaches the index (no BlockStored lost).
 * Decisions: the gateway publishes lifecycle events fire-and-forget (core NATS, by design), so
 * those published while the INFERD_REQUESTS stream elects a new leader (nats-server's raft
 * election takes seconds) are lost; every other fault loses none.
 */
describe("e2e - chaos on a NATS cluster and a Redis Cluster", () => {
  it("survives a NATS node, a Redis primary, a gateway and a scorer replica", async () => {
    const clients = 4;
    const result = await runClusterChaos({
      sims: 2,
      clients,
      before: 40,
      after: 40,
      replicas: true,
      convergeTimeoutMs: 30_000,
    });
    process.stdout.write(`${renderTable(result.faults)}\n${renderLossTable(result)}\n`);
    const by = Object.fromEntries(result.faults.map((f) => [f.target, f]));
    for (const f of result.faults) expect(f.readyAfterMs, `${f.target} healed`).toBeDefined();
    expect(by["NATS node (KV-event stream leader)"]!.failed).toBe(0);
    expect(by["Redis primary (the model's shard)"]!.failed).toBe(0);
    expect(by["scorer (1 of 2)"]!.failed).toBe(0);
    // A killed gateway fails at most the requests in flight on it.
    expect(by["gateway (1 of 2)"]!.failed).toBeLessThanOrEqual(clients);
    expect(result.kv.witnessGaps).toBe(0);
    expect(result.kv.engineBlocks).toBeGreaterThan(0);
    // The index's agreement with the engines after a Redis primary's failover is reported, not
    // asserted: blocks the index keeps after the engines evicted them (139 - 780 in 3 of 8 runs) and,
    // once in a CI run, 91 blocks the engines hold missing from it. Both are open defects (issue 17,
    // test/bench/README.md); the figures are printed so a run shows them.
    console.log(
      `[chaos-cluster] index vs engines: ${result.kv.missing} missing, ${result.kv.extra} extra of ${result.kv.engineBlocks} engine blocks`,
    );
    expect(result.decisions.succeeded).toBeGreaterThan(0);
    const lostOutsideNats = Object.entries(result.decisions.lostByFault).filter(
      ([target]) => target !== "NATS node (KV-event stream leader)",
    );
    expect(lostOutsideNats).toEqual([]);
  }, 600_000);
});
