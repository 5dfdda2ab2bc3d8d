import { describe, expect, it } from "vitest";
import { ClientLimit } from "../../src/domain/client-limit.ts";

describe("client limit", () => {
  it("refuses a client past its limit, others unaffected; leaving frees a slot and forgets idle clients", () => {
    const l = new ClientLimit(2);
    expect([l.enter("a"), l.enter("a"), l.enter("a")]).toEqual([true, true, false]);
    expect(l.enter("b")).toBe(true);
    l.leave("a");
    expect(l.enter("a")).toBe(true);
    l.leave("a");
    l.leave("a");
    l.leave("b");
    expect(l.clients).toBe(0);
  });

  it("0 means no limit", () => {
    const l = new ClientLimit(0);
    for (let i = 0; i < 10_000; i++) expect(l.enter("a")).toBe(true);
    expect(l.clients).toBe(0);
  });
});
