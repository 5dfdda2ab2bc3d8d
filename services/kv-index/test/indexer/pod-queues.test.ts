import { expect, it } from "vitest";
import { KeyedBatches } from "../../src/indexer/pod-queues.ts";

it("kv-index - keyed batches keep order per key, chunk what accumulated, run keys concurrently", async () => {
  const log: string[] = [];
  let releaseA: () => void = () => undefined;
  const gateA = new Promise<void>((r) => {
    releaseA = r;
  });
  let first = true;
  const q = new KeyedBatches<string>(async (key, items) => {
    if (key === "a" && first) {
      first = false;
      await gateA;
    }
    log.push(`${key}:${items.join("+")}`);
  }, 2);
  q.push("a", "a1");
  q.push("a", "a2");
  q.push("a", "a3");
  q.push("a", "a4");
  q.push("b", "b1");
  await q.whenBelow(5);
  // b ran while a's first chunk was blocked; a2.. wait for it and come in chunks of at most 2.
  expect(log).toEqual(["b:b1"]);
  expect(q.pending).toBe(4);
  releaseA();
  await q.drain();
  expect(log).toEqual(["b:b1", "a:a1", "a:a2+a3", "a:a4"]);
});
