import { ConfigError, envName } from "@inferd/service-kit";
import { assertConfigFuzz } from "@inferd/testkit";
import { describe, it } from "vitest";
import { loadScorerConfig, SCORER_CONFIG as SPEC } from "../../src/config.ts";

/** Random scorer config files and env values: loaded, or refused with a ConfigError naming the keys. */
const runs = Math.round(300 * Number(process.env.INFERD_FUZZ_SCALE ?? "1"));

describe("scorer - fuzzed configuration", () => {
  it(`loads ${runs} random config files and env values or refuses them with a ConfigError`, () => {
    assertConfigFuzz({
      service: "scorer",
      keys: Object.keys(SPEC),
      envName: (key) => envName("scorer", key),
      load: (argv, env) => loadScorerConfig(argv, env),
      isRefusal: (err) => err instanceof ConfigError,
      runs,
      seed: Number(process.env.INFERD_FUZZ_SEED ?? 7),
    });
  });
});
