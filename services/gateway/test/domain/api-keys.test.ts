import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ApiKeys, parseApiKeyFile } from "../../src/domain/api-keys.ts";
import { ModelPolicies } from "../../src/domain/model-policy.ts";

const hex = (k: string) => createHash("sha256").update(k).digest("hex");

describe("api keys", () => {
  it("per-model keys, plain or as sha256 digests; unprotected models need none", () => {
    const keys = new ApiKeys(
      ModelPolicies.parse({}, { m: { apiKeys: ["plain-1", `sha256:${hex("hashed-2")}`] } }),
    );
    expect(keys.protects("m")).toBe(true);
    expect(keys.allows("m", "m", "plain-1")).toBe(true);
    expect(keys.allows("m", "m", "hashed-2")).toBe(true);
    expect(keys.allows("m", "m", `sha256:${hex("hashed-2")}`)).toBe(false);
    expect(keys.allows("m", "m", "")).toBe(false);
    expect(keys.protects("open")).toBe(false);
    expect(keys.allows("open", "open", "")).toBe(true);
  });

  it("the key file adds per-model and global (*) keys and can be swapped", () => {
    const keys = new ApiKeys(ModelPolicies.parse({}, {}));
    keys.setFileKeys(parseApiKeyFile(`# comment\nbase-model sha256:${hex("m-key")}\n* global-key\n`));
    expect(keys.allows("base-model", "base-model", "m-key")).toBe(true);
    // An adapter of the base model accepts the base model's keys.
    expect(keys.allows("lora-a", "base-model", "m-key")).toBe(true);
    expect(keys.allows("other", "other", "m-key")).toBe(false);
    expect(keys.allows("other", "other", "global-key")).toBe(true);
    keys.setFileKeys(parseApiKeyFile("* rotated\n"));
    expect(keys.allows("other", "other", "global-key")).toBe(false);
    expect(keys.allows("other", "other", "rotated")).toBe(true);
  });

  it("refuses a malformed key file naming the line", () => {
    expect(() => parseApiKeyFile("m k1\nm\n")).toThrow(/line 2/);
    expect(() => parseApiKeyFile("m sha256:abc\n")).toThrow(/line 1: sha256: must be followed by 64 hex/);
  });
});
