import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";

export interface ConfigFuzzOptions {
  /** Service name (temporary folder name, messages). */
  service: string;
  /** The service's config keys; an unknown key is added to the mix. */
  keys: string[];
  /** Env var of a key (`envName(service, key)` of @inferd/service-kit). */
  envName: (key: string) => string;
  /** Loads the service's config from argv and env, as the service does. */
  load: (argv: string[], env: Record<string, string>) => unknown;
  /** Whether a thrown error is the refusal a bad value must give (a ConfigError). */
  isRefusal: (err: unknown) => boolean;
  runs: number;
  seed: number;
}

/**
 * Random config files (JSON is YAML; random text covers what is not even YAML) and environment
 * values: loading either succeeds or is refused with the service's config error, never another
 * exception. Throws fast-check's counterexample otherwise.
 */
export function assertConfigFuzz(options: ConfigFuzzOptions): void {
  const dir = mkdtempSync(join(tmpdir(), `${options.service}-config-fuzz-`));
  const keys = [...options.keys, "notAKey"];
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(-1, 0, 1e300, 2 ** 53, "", "0x10", "true", [], {}, null),
    fc.string({ maxLength: 30 }),
  );
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
        const envVars = Object.fromEntries(Object.entries(env).map(([k, v]) => [options.envName(k), v]));
        try {
          options.load(["--config", file], envVars);
        } catch (err) {
          if (!options.isRefusal(err))
            throw new Error(`${options.service}: not a config refusal: ${String(err)}`);
        }
      },
    ),
    { numRuns: options.runs, seed: options.seed },
  );
}
