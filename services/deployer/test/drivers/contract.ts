import { waitFor } from "@inferd/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Replica, ReplicaState } from "../../src/domain/replica.ts";
import type { PoolDriver } from "../../src/drivers/driver.ts";

/**
 * What a driver under test comes with: a started driver managing `pool` (model `model`,
 * 1 replica at start, minReplicas 0, maxReplicas 2). `dispose` removes everything it made.
 */
export interface DriverHarness {
  driver: PoolDriver;
  pool: string;
  model: string;
  dispose(): Promise<void>;
}

export interface ContractOptions {
  /** Deadline for replicas to become ready or go away. */
  timeoutMs: number;
}

/** Records, on every discovery event, each replica's state: the history a reader of the inventory sees. */
function recordStates(driver: PoolDriver): { history: Map<string, ReplicaState[]>; events: () => number } {
  const history = new Map<string, ReplicaState[]>();
  let events = 0;
  const seen = new Set<string>();
  driver.onChange(() => {
    events++;
    const now = new Set<string>();
    for (const r of driver.replicas()) {
      now.add(r.pod);
      const h = history.get(r.pod) ?? [];
      if (h.at(-1) !== r.state) h.push(r.state);
      history.set(r.pod, h);
    }
    for (const pod of seen) if (!now.has(pod)) history.get(pod)?.push("gone" as ReplicaState);
    seen.clear();
    for (const pod of now) seen.add(pod);
  });
  return { history, events: () => events };
}

const ofPool = (d: PoolDriver, pool: string): Replica[] => d.replicas().filter((r) => r.pool === pool);
const readyOf = (d: PoolDriver, pool: string): Replica[] =>
  ofPool(d, pool).filter((r) => r.state === "ready");

/** The behaviour every PoolDriver has, written once and run against each driver. */
export function describeDriverContract(
  label: string,
  make: () => Promise<DriverHarness>,
  options: ContractOptions,
): void {
  // Each test waits up to timeoutMs more than once (ready, then scaled): its own limit covers all.
  describe(`${label} driver contract`, { timeout: 3 * options.timeoutMs }, () => {
    let h: DriverHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h?.dispose();
    });
    const t = options.timeoutMs;

    it(`${label} - lists the pool with its starting replica count, ready`, async () => {
      expect(h.driver.pools().map((p) => p.name)).toContain(h.pool);
      expect(h.driver.desired(h.pool)).toBe(1);
      const ready = await waitFor(
        () => (readyOf(h.driver, h.pool).length === 1 ? readyOf(h.driver, h.pool) : undefined),
        {
          timeoutMs: t,
          message: "one ready replica",
        },
      );
      const r = ready[0]!;
      expect(r.model).toBe(h.model);
      expect(r.address).toMatch(/^http:\/\/[0-9.]+:\d+$/);
      expect(r.role).toBe("both");
    });

    it(`${label} - scale up is clamped to maxReplicas and the new replica becomes ready, with discovery events`, async () => {
      await waitFor(() => readyOf(h.driver, h.pool).length === 1, { timeoutMs: t });
      const rec = recordStates(h.driver);
      await h.driver.scale(h.pool, 99);
      expect(h.driver.desired(h.pool)).toBe(2);
      await waitFor(() => readyOf(h.driver, h.pool).length === 2, {
        timeoutMs: t,
        message: "two ready replicas",
      });
      expect(rec.events()).toBeGreaterThan(0);
      const pods = ofPool(h.driver, h.pool).map((r) => r.pod);
      expect(new Set(pods).size).toBe(2);
      // No replica was reported draining on the way up.
      for (const states of rec.history.values()) expect(states).not.toContain("draining");
    });

    it(`${label} - scale down drains: the removed replica goes draining, never ready again, then is gone`, async () => {
      await h.driver.scale(h.pool, 2);
      await waitFor(() => readyOf(h.driver, h.pool).length === 2, { timeoutMs: t });
      const rec = recordStates(h.driver);
      await h.driver.scale(h.pool, 1);
      expect(h.driver.desired(h.pool)).toBe(1);
      await waitFor(() => ofPool(h.driver, h.pool).length === 1 && readyOf(h.driver, h.pool).length === 1, {
        timeoutMs: t,
        message: "back to one ready replica",
      });
      const removed = [...rec.history.entries()].filter(([, s]) => s.includes("gone" as ReplicaState));
      expect(removed).toHaveLength(1);
      const states = removed[0]![1];
      const drainAt = states.indexOf("draining");
      expect(drainAt).toBeGreaterThanOrEqual(0);
      expect(states.slice(drainAt)).toEqual(["draining", "gone"]);
    });

    it(`${label} - scales to zero and back`, async () => {
      await waitFor(() => readyOf(h.driver, h.pool).length === 1, { timeoutMs: t });
      await h.driver.scale(h.pool, 0);
      await waitFor(() => ofPool(h.driver, h.pool).length === 0, { timeoutMs: t, message: "no replica" });
      await h.driver.scale(h.pool, 1);
      await waitFor(() => readyOf(h.driver, h.pool).length === 1, { timeoutMs: t, message: "ready again" });
    });

    it(`${label} - an unknown pool is an error`, async () => {
      await expect(h.driver.scale("no-such-pool", 1)).rejects.toThrow(/unknown pool/);
    });
  });
}
