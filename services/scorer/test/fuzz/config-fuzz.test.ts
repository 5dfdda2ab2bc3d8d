import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, envName } from "@inferd/service-kit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadScorerConfig, SCORER_CONFIG as SPEC } from "../../src/config.ts";

/**
 * Random scorer config files (and environment values): loading either succeeds or fails
 * with a ConfigError naming each bad key, never another exception. JSON is YAML, so the files
 * are written as JSON; random text covers what is not even YAML.
 */
const runs = Math.round(300 * Number(process.env.INFERD_FUZZ_SCALE ?? "1"));
const dir = mkdtempSync(join(tmpdir(), "scorer-config-fuzz-"));
const keys = [...Object.keys(SPEC), "notAKey"];
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(-1, 0, 1e300, 2 ** 53, "", "0x10", "true", [], {}, null),
  fc.string({ maxLength: 30 }),
);

describe("scorer - fuzzed configuration", () => {
  it(`loads ${runs} random config files and env values or refuses them with a ConfigError`, () => {
    let n = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 4 }).map((o) => JSON.stringify(o)),
          fc.string({ maxLength: 200 }),
        ),
        fc.dictionary(fc.constantFrom(...keys), fc.string({ maxLength: 20 }), { maxKeys: 2 }),
        (text, env) => {
          const file = join(dir, `c${n++}.yaml`);
          writeFileSync(file, text);
          const envVars = Object.fromEntries(Object.entries(env).map(([k, v]) => [envName("scorer", k), v]));
          try {
            loadScorerConfig(["--config", file], envVars);
          } catch (err) {
            expect(err, String(err)).toBeInstanceOf(ConfigError);
          }
        },
      ),
      { numRuns: runs, seed: Number(process.env.INFERD_FUZZ_SEED ?? 7) },
    );
  });
});
