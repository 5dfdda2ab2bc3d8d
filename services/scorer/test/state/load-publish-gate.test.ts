import { describe, expect, it } from "vitest";
import { LoadPublishGate } from "../../src/state/load-publish-gate.ts";

describe("scorer - EndpointLoad publish gate", () => {
  it("scorer - publishes a change at most every minIntervalMs, an unchanged load every heartbeat", () => {
    const gate = new LoadPublishGate({ minIntervalMs: 500, heartbeatMs: 1000 });
    expect(gate.admit("p", "a", 0)).toBe("send");
    expect(gate.admit("p", "a", 100)).toBe("unchanged");
    expect(gate.admit("p", "b", 200)).toBe("deferred");
    expect(gate.admit("p", "b", 500)).toBe("send");
    expect(gate.admit("q", "b", 500)).toBe("send");
    expect(gate.admit("p", "b", 1400)).toBe("unchanged");
    expect(gate.admit("p", "b", 1500)).toBe("send");
    gate.forget("p");
    expect(gate.admit("p", "b", 1501)).toBe("send");
  });

  it("scorer - minIntervalMs 0 publishes every change at once", () => {
    const gate = new LoadPublishGate({ minIntervalMs: 0, heartbeatMs: 1000 });
    expect(gate.admit("p", "a", 0)).toBe("send");
    expect(gate.admit("p", "b", 1)).toBe("send");
    expect(gate.admit("p", "b", 2)).toBe("unchanged");
  });
});
