import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BENCHMARKS, runBench } from "../../src/commands/bench.ts";
import { repoRoot } from "../../src/repo.ts";

describe("cli bench - the list of benchmarks", () => {
  it.each(Object.entries(BENCHMARKS))("%s points at an existing entry file", (_name, bench) => {
    expect(existsSync(join(repoRoot(), bench.entry))).toBe(true);
  });

  it("refuses an unknown benchmark with the list", async () => {
    expect(await runBench(["nope"])).toBe(2);
  });
});
