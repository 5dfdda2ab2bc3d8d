import { expect, it } from "vitest";
import { KeyedQueues } from "../../src/indexer/pod-queues.ts";

it("kv-index - keyed queues keep order per key and run keys concurrently", async () => {
  const q = new KeyedQueues();
  const log: string[] = [];
  let releaseA: () => void = () => undefined;
  const gateA = new Promise<void>((r) => {
    releaseA = r;
  });
  q.enqueue("a", async () => {
    await gateA;
    log.push("a1");
  });
  q.enqueue("a", async () => {
    log.push("a2");
  });
  q.enqueue("b", async () => {
    log.push("b1");
  });
  await q.whenBelow(3);
  // b ran while a1 was blocked; a2 waits for a1.
  expect(log).toEqual(["b1"]);
  expect(q.pending).toBe(2);
  releaseA();
  await q.drain();
  expect(log).toEqual(["b1", "a1", "a2"]);
});
