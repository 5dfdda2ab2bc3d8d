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

  it("models - one model by id, names with slashes included", async () => {
    const { app } = await build({
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
      ],
    });
    const one = await app.inject({ method: "GET", url: `/v1/models/${MODEL}` });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: MODEL, object: "model", parent: null });
    const adapter = await app.inject({ method: "GET", url: "/v1/models/sql-lora" });
    expect(adapter.json()).toMatchObject({ id: "sql-lora", parent: MODEL, root: MODEL });
    const missing = await app.inject({ method: "GET", url: "/v1/models/none" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("model_not_found");
  });
});
