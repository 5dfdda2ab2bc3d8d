import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { validatePolicy } from "../../src/core.ts";

/**
 * Random EndpointPickerConfig files: llm-d's own sample configs with values replaced, keys
 * removed or added at random places, and random text. Building the policy either works or fails
 * with a ConfigError (validatePolicy rethrows anything else), and never hangs.
 */
const FIXTURES = new URL("../fixtures/llm-d/", import.meta.url).pathname;
const samples = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => parseYaml(readFileSync(`${FIXTURES}${f}`, "utf8")) as unknown);
const runs = Math.round(500 * Number(process.env.INFERD_FUZZ_SCALE ?? "1"));

const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 1e300, -1e300, 2 ** 53, "", "max-score-picker", "prefix-cache-scorer", [], {}, null),
);

/** Paths to every node of a parsed document. */
function paths(node: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) out.push(...paths(v, [...at, i]));
  } else if (node !== null && typeof node === "object")
    for (const [k, v] of Object.entries(node)) out.push(...paths(v, [...at, k]));
  return out;
}

/** The document with the node at `path` replaced (or deleted when `v` is undefined). */
function mutate(doc: unknown, path: (string | number)[], v: unknown): unknown {
  if (path.length === 0) return v;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (v === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = v;
  return copy;
}

const mutated = fc
  .tuple(
    fc.integer({ min: 0, max: samples.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.option(value, { nil: undefined })), { minLength: 1, maxLength: 3 }),
  )
  .map(([i, edits]) => {
    let doc = samples[i];
    for (const [pick, v] of edits) {
      const all = paths(doc);
      doc = mutate(doc, all[pick % all.length]!, v);
    }
    return stringify(doc);
  });

describe("scorer - fuzzed EndpointPickerConfig", () => {
  it(`builds or refuses ${runs} mutated llm-d configs with a ConfigError`, () => {
    let ok = 0;
    fc.assert(
      fc.property(fc.oneof({ arbitrary: mutated, weight: 4 }, fc.string({ maxLength: 300 })), (text) => {
        const r = validatePolicy({ kind: "config", text, source: "fuzz.yaml" });
        if (r.ok) ok++;
        else expect(r.text).toMatch(/^error: /);
      }),
      { numRuns: runs, seed: Number(process.env.INFERD_FUZZ_SEED ?? 11) },
    );
    // The mutations keep some configs valid, so building them is exercised too.
    expect(ok).toBeGreaterThan(0);
  });
});
