import { describe, expect, it } from "vitest";
import { build, MODEL } from "../../helper.ts";

describe("models", () => {
  it("models - every model and adapter of the inventory and configuration", async () => {
    const { app, inventory } = await build({
      models: { "sleepy/model": { noEndpointTtlMs: 1000 }, "secret/model": { apiKeys: ["k"] } },
      endpoints: [
        {
          model: MODEL,
          pod: "a",
          address: "http://127.0.0.1:1",
          role: "both",
          loraAdapters: ["sql-lora"],
          ready: true,
          pool: "",
        },
        {
          model: MODEL,
          pod: "b",
          address: "http://127.0.0.1:2",
          role: "both",
          loraAdapters: [],
          ready: false,
          pool: "",
        },
      ],
    });
    const ids = async (headers: Record<string, string> = {}) => {
      const res = await app.inject({ method: "GET", url: "/v1/models", headers });
      expect(res.statusCode).toBe(200);
      return res.json().data.map((m: { id: string; parent: string | null }) => `${m.id}<${m.parent ?? ""}`);
    };
    expect(await ids()).toEqual([`${MODEL}<`, `sql-lora<${MODEL}`, "sleepy/model<"]);
    expect(await ids({ authorization: "Bearer k" })).toContain("secret/model<");
    inventory.upsert({
      model: "new/model",
      pod: "c",
      address: "http://x:1",
      role: "both",
      loraAdapters: [],
      ready: true,
      pool: "",
    });
    expect(await ids()).toContain("new/model<");
  });
});
