import { VllmVersions } from "@inferd/block-index";
import { type ManagedProcess, waitFor } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VllmVersionDetector } from "../../src/adapters/vllm-version-detect.ts";
import { quietLogger, startModelSimProcess } from "./helpers.ts";

/** The scorer learns a model's vLLM version from its servers' GET /version, as kv-index does. */
describe("scorer - vLLM version detection (model-sim as vLLM 0.20)", () => {
  let sim: ManagedProcess;
  let address: string;
  beforeAll(async () => {
    ({ sim, address } = await startModelSimProcess(["--vllm-version", "0.20.0"]));
  }, 90_000);
  afterAll(() => sim?.stop());

  it("a model without a configured version takes the reported one; a configured one wins", async () => {
    const versions = new VllmVersions("0.34.0", { pinned: "0.11.0" });
    const detector = new VllmVersionDetector(versions, quietLogger());
    detector.observe([
      { pod: "a", model: "m", address, ready: true },
      { pod: "b", model: "pinned", address, ready: true },
      { pod: "c", model: "not-ready", address, ready: false },
    ]);
    await waitFor(() => versions.detected("m"), { message: "version of m detected" });
    expect(versions.rulesFor("m").version).toBe("0.20.0");
    expect(versions.rulesFor("m").mmKey).toBe("identifier_offset");
    expect(versions.rulesFor("pinned").version).toBe("0.11.0");
    expect(versions.detected("not-ready")).toBe(false);
  });
});
