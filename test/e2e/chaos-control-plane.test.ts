import { describe, expect, it } from "vitest";
import { renderControlPlane, runControlPlaneChaos } from "../bench/chaos/control-plane.ts";
import { renderTable } from "../bench/chaos/figures.ts";

/**
 * Short form of `inferd bench chaos --targets autoscaler,deployer`: an `inferd up` stack in
 * deployer mode with a standby autoscaler. Under load, kill -9 the autoscaler holding the lease
 * (the standby takes it over) and the deployer (inferd up restarts it). No request fails on
 * either, no scale decision is lost, no endpoint is deleted, and the inventory is true again
 * afterwards.
 */
describe("e2e - chaos on the control plane (autoscaler leader, deployer)", () => {
  it("the standby autoscaler takes the lease and the restarted deployer keeps the inventory true", async () => {
    const result = await runControlPlaneChaos({ sims: 2, clients: 4, before: 40, after: 40 });
    process.stdout.write(`${renderTable(result.faults)}\n${renderControlPlane(result)}\n`);
    const [autoscaler, deployer] = result.faults;
    expect(autoscaler!.readyAfterMs, "the standby took the lease").toBeDefined();
    expect(autoscaler!.failed).toBe(0);
    expect(deployer!.readyAfterMs, "the deployer is ready again").toBeDefined();
    expect(deployer!.failed).toBe(0);
    expect(result.scaleDecisions.dropped).toBe(0);
    expect(result.scaleDecisions.stored).toBe(result.scaleDecisions.published);
    expect(result.inventory.trueAfterMs, "inventory true again").toBeDefined();
    expect(result.inventory.dropped).toBe(0);
    // Reported, not asserted: the restarted local deployer starts its servers anew instead of
    // adopting the running ones, so their entries go STARTING (not ready) for a few seconds — an
    // open defect (issue 17, test/bench/README.md); requests still succeed meanwhile (FailOpen).
    console.log(
      `[chaos-control-plane] endpoints marked not ready by the restarted deployer: ${result.inventory.notReady}`,
    );
  }, 600_000);
});
