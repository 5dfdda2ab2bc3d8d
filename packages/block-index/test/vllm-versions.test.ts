import { describe, expect, it } from "vitest";
import { VllmVersions } from "../src/vllm-versions.ts";

describe("block-index - vLLM versions per model pool", () => {
  it("configured per-model version > reported by the servers > vllmVersion", () => {
    const v = new VllmVersions("0.34.0", { pinned: "0.23.0" });
    expect(v.rulesFor("any").version).toBe("0.34.0");
    expect(v.learn("any", "0.30.1").version).toBe("0.30.1");
    expect(v.rulesFor("any").loraKey).toBe("name");
    expect(v.learn("pinned", "0.34.0").version).toBe("0.23.0");
    expect(v.detected("pinned")).toBe(false);
    expect(v.detected("any")).toBe(true);
  });
});
