import { describe, expect, it } from "vitest";
import { runClusterChaos } from "../bench/chaos/cluster-run.ts";
import { renderTable } from "../bench/chaos/figures.ts";
import { renderLossTable } from "../bench/chaos/loss-table.ts";

/**
 * Short form of `inferd bench chaos --cluster`: an `inferd up` stack on a 3-node NATS cluster
 * (R3 streams and bucket) and a Redis Cluster (3 primaries + replicas), 2 gateways and 2 scorers.
 * Under load, kill -9 the NATS node leading the KV-event stream, the Redis primary of the model's
 * shard, then one gateway and one scorer. The stack keeps serving through NATS and Redis failover
 * and a scorer's death; the index converges to the engines' blocks (nothing missing, nothing
 * extra: writes the failed-over Redis primary lost are replayed from the stream); every
 * successful request's ROUTED and COMPLETED events are stored (the gateways' acknowledged
 * publishers retry across the stream's leader election; only a COMPLETED still buffered in the
 * killed gateway can die with it) and every scale decision too.
 */
describe("e2e - chaos on a NATS cluster and a Redis Cluster", () => {
  it("survives a NATS node, a Redis primary, a gateway and a scorer replica, losing no event", async () => {
    const clients = 4;
    const result = await runClusterChaos({
      sims: 2,
      clients,
      before: 40,
      after: 40,
      replicas: true,
      convergeTimeoutMs: 60_000,
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
    expect({ missing: result.kv.missing, extra: result.kv.extra }).toEqual({ missing: 0, extra: 0 });
    expect(result.decisions.succeeded).toBeGreaterThan(0);
    // An event still in the killed gateway's buffer (answer sent, ack not yet back) dies with it:
    // at most its in-flight requests; none on any other fault (NATS node and Redis included).
    for (const byFault of [result.decisions.lostByFault, result.decisions.completedLostByFault]) {
      const { "gateway (1 of 2)": onGateway = 0, ...elsewhere } = byFault;
      expect(elsewhere).toEqual({});
      expect(onGateway).toBeLessThanOrEqual(clients);
    }
    const scale = result.scaleDecisions;
    expect(scale.dropped).toBe(0);
    expect(scale.stored).toBe(scale.published);
  }, 900_000);
});
