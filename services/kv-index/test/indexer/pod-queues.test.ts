import { expect, it, vi } from "vitest";
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

it("kv-index - keyed batches with a linger: what every idle key receives meanwhile is handled in one chunk", async () => {
  vi.useFakeTimers();
  try {
    const log: string[] = [];
    const q = new KeyedBatches<string>(
      async (key, items) => {
        log.push(`${key}:${items.join("+")}`);
      },
      64,
      20,
    );
    q.push("a", "a1");
    q.push("b", "b1");
    await vi.advanceTimersByTimeAsync(10);
    // Still lingering: nothing handled yet, more arrives.
    expect(log).toEqual([]);
    q.push("a", "a2");
    q.push("b", "b2");
    q.push("c", "c1");
    await vi.advanceTimersByTimeAsync(10);
    expect(log).toEqual(["a:a1+a2", "b:b1+b2", "c:c1"]);
    expect(q.pending).toBe(0);
    // Without a linger the first item of an idle key goes alone.
    const eager: string[] = [];
    const e = new KeyedBatches<string>(async (key, items) => {
      eager.push(`${key}:${items.join("+")}`);
    }, 64);
    e.push("a", "a1");
    e.push("a", "a2");
    await e.drain();
    expect(eager).toEqual(["a:a1", "a:a2"]);
  } finally {
    vi.useRealTimers();
  }
});
