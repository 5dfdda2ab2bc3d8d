import { ConfigError, envName, loadConfig } from "@inferd/service-kit";
import { assertConfigFuzz } from "@inferd/testkit";
import { describe, it } from "vitest";
import { KV_INDEX_CONFIG as SPEC } from "../../src/config.ts";

/** Random kv-index config files and env values: loaded, or refused with a ConfigError naming the keys. */
const runs = Math.round(300 * Number(process.env.INFERD_FUZZ_SCALE ?? "1"));

describe("kv-index - fuzzed configuration", () => {
  it(`loads ${runs} random config files and env values or refuses them with a ConfigError`, () => {
    assertConfigFuzz({
      service: "kv-index",
      keys: Object.keys(SPEC),
      envName: (key) => envName("kv-index", key),
      load: (argv, env) => loadConfig("kv-index", SPEC, { argv, env }),
      isRefusal: (err) => err instanceof ConfigError,
      runs,
      seed: Number(process.env.INFERD_FUZZ_SEED ?? 7),
    });
  });
});
