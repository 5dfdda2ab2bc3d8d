import { describe, expect, it } from "vitest";
import { Inventory, type InventoryEndpoint, leastLoaded } from "../../src/domain/inventory.ts";

function ep(pod: string, extra: Partial<InventoryEndpoint> = {}): InventoryEndpoint {
  return {
    model: "base",
    pod,
    address: `http://${pod}`,
    role: "both",
    loraAdapters: [],
    ready: true,
    pool: "",
    ...extra,
  };
}

describe("inventory", () => {
  it("inventory - resolves base models, adapters and configured models at zero", () => {
    const inv = new Inventory(["sleeping"]);
    inv.replaceAll([ep("a", { loraAdapters: ["sql-lora"] }), ep("b", { ready: false })]);
    expect(inv.resolve("base")).toEqual({ model: "base", baseModel: "base", adapter: undefined });
    expect(inv.resolve("sql-lora")).toEqual({ model: "sql-lora", baseModel: "base", adapter: "sql-lora" });
    expect(inv.resolve("sleeping")).toEqual({ model: "sleeping", baseModel: "sleeping", adapter: undefined });
    expect(inv.resolve("nope")).toBeUndefined();
  });

  it("inventory - lists models with their adapters", () => {
    const inv = new Inventory(["zzz"]);
    inv.replaceAll([ep("a", { loraAdapters: ["l2", "l1"] }), ep("b", { model: "other" })]);
    expect(inv.models()).toEqual([
      { id: "base", parent: undefined },
      { id: "l1", parent: "base" },
      { id: "l2", parent: "base" },
      { id: "other", parent: undefined },
      { id: "zzz", parent: undefined },
    ]);
  });

  it("inventory - candidates are ready, whole-request endpoints holding the adapter", () => {
    const inv = new Inventory();
    inv.replaceAll([
      ep("a", { loraAdapters: ["l"] }),
      ep("b"),
      ep("c", { ready: false, loraAdapters: ["l"] }),
      ep("p", { role: "prefill", loraAdapters: ["l"] }),
      ep("d", { role: "decode" }),
    ]);
    expect(
      inv.candidates({ model: "base", baseModel: "base", adapter: undefined }).map((e) => e.pod),
    ).toEqual(["a", "b", "d"]);
    expect(inv.candidates({ model: "l", baseModel: "base", adapter: "l" }).map((e) => e.pod)).toEqual(["a"]);
    inv.remove("base", "a");
    expect(inv.candidates({ model: "l", baseModel: "base", adapter: "l" })).toEqual([]);
  });

  it("inventory - least loaded first, ties rotate", () => {
    const eps = [ep("a"), ep("b"), ep("c")];
    const load: Record<string, number> = { a: 2, b: 0, c: 0 };
    const firsts = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const order = leastLoaded(eps, (p) => load[p]!, i).map((e) => e.pod);
      expect(order[2]).toBe("a");
      firsts.add(order[0]!);
    }
    expect(firsts).toEqual(new Set(["b", "c"]));
  });
});
