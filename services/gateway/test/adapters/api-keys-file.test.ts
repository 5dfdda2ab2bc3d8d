import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "@inferd/service-kit";
import { waitFor } from "@inferd/testkit";
import { describe, expect, it, onTestFinished } from "vitest";
import { followApiKeyFile } from "../../src/adapters/api-keys-file.ts";
import { ApiKeys } from "../../src/domain/api-keys.ts";
import { ModelPolicies } from "../../src/domain/model-policy.ts";

describe("api key file", () => {
  it("is reloaded without a restart when replaced (as a Secret volume swaps it); a broken file keeps the old keys", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gw-keys-"));
    const path = join(dir, "keys");
    writeFileSync(path, "* first\n");
    const keys = new ApiKeys(ModelPolicies.parse({}, {}));
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const stop = followApiKeyFile(path, keys, createLogger({ service: "t", level: "info", destination }), 20);
    onTestFinished(stop);
    expect(keys.allows("m", "m", "first")).toBe(true);
    // Atomic replace, as Kubernetes does: write aside, rename over.
    writeFileSync(join(dir, "next"), "* second\n");
    renameSync(join(dir, "next"), path);
    await waitFor(() => keys.allows("m", "m", "second"), { timeoutMs: 5000, message: "new key in force" });
    expect(keys.allows("m", "m", "first")).toBe(false);
    writeFileSync(join(dir, "broken"), "* sha256:not-hex-at-all and-more\n");
    renameSync(join(dir, "broken"), path);
    await waitFor(() => lines.some((l) => l.includes("previous keys kept")), {
      timeoutMs: 5000,
      message: "broken file seen",
    });
    expect(keys.allows("m", "m", "second")).toBe(true);
    writeFileSync(join(dir, "next"), "* third\n");
    renameSync(join(dir, "next"), path);
    await waitFor(() => keys.allows("m", "m", "third"), { timeoutMs: 5000, message: "third key in force" });
  });
});
