import { Histogram, Registry } from "prom-client";
import { expect, it } from "vitest";
import { describeIndexContract } from "../src/contract.ts";
import { InMemoryBlockIndex } from "../src/in-memory.ts";
import { InstrumentedBlockIndex } from "../src/instrumented.ts";

const histogram = () =>
  new Histogram({
    name: "inferd_kv_index_operation_duration_seconds",
    help: "test",
    labelNames: ["backend", "op"] as const,
    registers: [new Registry()],
  });

// The decorator must not change behaviour: it passes the whole contract.
describeIndexContract("instrumented in-memory", async () => {
  const index = new InstrumentedBlockIndex(new InMemoryBlockIndex(), histogram());
  return { index, cleanup: () => index.close() };
});

it("block-index - instrumented index times each operation by backend and op", async () => {
  const h = histogram();
  const index = new InstrumentedBlockIndex(new InMemoryBlockIndex(), h);
  await index.add("m", "a", "gpu", null, [1n]);
  await index.lookup("m", [1n]);
  await index.lookup("m", [1n]);
  const counts = (await h.get()).values.filter((v) => v.metricName?.endsWith("_count"));
  const of = (op: string) => counts.find((v) => v.labels.op === op && v.labels.backend === "memory")?.value;
  expect(of("lookup")).toBe(2);
  expect(of("add")).toBe(1);
});
