import { ConfigError, envName, loadConfig } from "@inferd/service-kit";
import { assertConfigFuzz } from "@inferd/testkit";
import { describe, it } from "vitest";
import { gatewayConfigSpec as SPEC } from "../../src/config.ts";

/** Random gateway config files and env values: loaded, or refused with a ConfigError naming the keys. */
const runs = Math.round(300 * Number(process.env.INFERD_FUZZ_SCALE ?? "1"));

describe("gateway - fuzzed configuration", () => {
  it(`loads ${runs} random config files and env values or refuses them with a ConfigError`, () => {
    assertConfigFuzz({
      service: "gateway",
      keys: Object.keys(SPEC),
      envName: (key) => envName("gateway", key),
      load: (argv, env) => loadConfig("gateway", SPEC, { argv, env }),
      isRefusal: (err) => err instanceof ConfigError,
      runs,
      seed: Number(process.env.INFERD_FUZZ_SEED ?? 7),
    });
  });
});
