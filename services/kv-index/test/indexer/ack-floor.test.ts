import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AckFloor } from "../../src/indexer/ack-floor.ts";

const msg = (seq: number) => ({ seq });

describe("AckFloor", () => {
  it("names the newest message whose predecessors are all applied", () => {
    const acks = new AckFloor<{ seq: number }>();
    const slots = [1, 2, 3, 4].map((s) => acks.delivered(msg(s)));
    slots[1]!.applied = true;
    slots[3]!.applied = true;
    expect(acks.take()).toBeUndefined(); // 1 not applied: nothing may be acknowledged
    slots[0]!.applied = true;
    expect(acks.take()?.seq).toBe(2); // 3 still open
    expect(acks.take()).toBeUndefined();
    slots[2]!.applied = true;
    expect(acks.ready).toBe(2);
    expect(acks.take()?.seq).toBe(4);
    expect(acks.unacked).toBe(0);
  });

  it("never acknowledges backwards for a redelivered older message", () => {
    const acks = new AckFloor<{ seq: number }>();
    const a = acks.delivered(msg(5));
    a.applied = true;
    expect(acks.take()?.seq).toBe(5);
    acks.delivered(msg(3)).applied = true; // redelivery after ack_wait
    expect(acks.take()).toBeUndefined();
    acks.delivered(msg(6)).applied = true;
    expect(acks.take()?.seq).toBe(6);
  });

  it("property: every acknowledged sequence covers only applied messages", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.array(fc.nat(), { maxLength: 4000 }), (n, picks) => {
        const acks = new AckFloor<{ seq: number }>();
        const slots = Array.from({ length: n }, (_, i) => acks.delivered(msg(i + 1)));
        const open = slots.map((_, i) => i);
        let acked = 0;
        for (const p of picks) {
          if (open.length === 0) break;
          const [i] = open.splice(p % open.length, 1);
          slots[i!]!.applied = true;
          const m = acks.take();
          if (m === undefined) continue;
          expect(m.seq).toBeGreaterThan(acked);
          acked = m.seq;
          for (let s = 0; s < acked; s++) expect(slots[s]!.applied).toBe(true);
        }
        // The floor stops exactly at the first unapplied message.
        const firstOpen = slots.findIndex((s) => !s.applied);
        const last = acks.take()?.seq ?? acked;
        expect(last).toBe(firstOpen === -1 ? n : firstOpen);
      }),
      { numRuns: 50 },
    );
  });
});
