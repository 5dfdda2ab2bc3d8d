import { describe, expect, it } from "vitest";
import { renderControlPlane, runControlPlaneChaos } from "../bench/chaos/control-plane.ts";
import { renderTable } from "../bench/chaos/figures.ts";

/**
 * Short form of `inferd bench chaos --targets autoscaler,deployer`: an `inferd up` stack in
 * deployer mode with a standby autoscaler. Under load, kill -9 the autoscaler holding the lease
 * (the standby takes it over) and the deployer (inferd up restarts it; the new one adopts the
 * running model servers). No request fails on either, no scale decision is lost, no endpoint is
 * deleted or marked not ready, and the inventory is true again afterwards.
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
    // The restarted deployer adopts its running servers (issue 17): their records are never
    // turned not ready (nor rewritten) while it is down and back.
    expect(result.inventory.notReady, "endpoints marked not ready by the restarted deployer").toBe(0);
    expect(result.restartedDeployer, "the restarted deployer's servers").toEqual({ adopted: 2, started: 0 });
  }, 600_000);
});
