import { describe, expect, it } from "vitest";
import { FlowQueue, type QueueItem } from "../../src/domain/flow-queue.ts";

let seq = 0;
function item(priority: number, fairnessId: string, at = seq, ttl = 1000): QueueItem<string> {
  seq++;
  return {
    id: `r${seq}`,
    priority,
    fairnessId,
    enqueuedAt: at,
    deadline: at + ttl,
    value: `${fairnessId}:${priority}:${seq}`,
  };
}

function drain(q: FlowQueue<string>): string[] {
  const out: string[] = [];
  for (let it = q.next(); it !== undefined; it = q.next()) out.push(it.id);
  return out;
}

describe("flow-queue", () => {
  it("flow-queue - higher priority bands are served first, FCFS inside a flow", () => {
    const q = new FlowQueue<string>({ maxItems: 10 });
    const a = item(0, "t");
    const b = item(10, "t");
    const c = item(0, "t");
    const d = item(-5, "t");
    for (const x of [a, b, c, d]) expect(q.enqueue(x).ok).toBe(true);
    expect(drain(q)).toEqual([b.id, a.id, c.id, d.id]);
    expect(q.size).toBe(0);
  });

  it("flow-queue - round-robin between fairness ids inside a band", () => {
    const q = new FlowQueue<string>({ maxItems: 10 });
    const a1 = item(0, "a");
    const a2 = item(0, "a");
    const a3 = item(0, "a");
    const b1 = item(0, "b");
    const c1 = item(0, "c");
    for (const x of [a1, a2, a3, b1, c1]) q.enqueue(x);
    // a heavy tenant does not starve b and c.
    expect(drain(q)).toEqual([a1.id, b1.id, c1.id, a2.id, a3.id]);
  });

  it("flow-queue - requeueFront keeps the item's turn", () => {
    const q = new FlowQueue<string>({ maxItems: 10 });
    const a1 = item(0, "a");
    const b1 = item(0, "b");
    q.enqueue(a1);
    q.enqueue(b1);
    const head = q.next()!;
    expect(head.id).toBe(a1.id);
    q.requeueFront(head);
    expect(q.peek()?.id).toBe(a1.id);
    expect(drain(q)).toEqual([a1.id, b1.id]);
  });

  it("flow-queue - expire removes items at or past their deadline only", () => {
    const q = new FlowQueue<string>({ maxItems: 10 });
    const short = item(0, "a", 0, 100);
    const long = item(0, "a", 0, 500);
    q.enqueue(short);
    q.enqueue(long);
    expect(q.expire(99)).toEqual([]);
    expect(q.expire(100).map((i) => i.id)).toEqual([short.id]);
    expect(q.size).toBe(1);
    expect(q.peek()?.id).toBe(long.id);
  });

  it("flow-queue - when full, a higher priority evicts the newest lowest-band item; equal priority is refused", () => {
    const q = new FlowQueue<string>({ maxItems: 2 });
    const low1 = item(-1, "a", 1);
    const low2 = item(-1, "b", 2);
    q.enqueue(low1);
    q.enqueue(low2);
    expect(q.enqueue(item(-1, "c"))).toEqual({ ok: false, reason: "rejected-capacity" });
    const high = item(5, "a", 3);
    const res = q.enqueue(high);
    expect(res.ok).toBe(true);
    expect(res.ok && res.evicted?.id).toBe(low2.id);
    expect(drain(q)).toEqual([high.id, low1.id]);
  });

  it("flow-queue - remove drops one item and keeps the others in order", () => {
    const q = new FlowQueue<string>({ maxItems: 10 });
    const a = item(0, "a");
    const b = item(0, "a");
    const c = item(0, "b");
    for (const x of [a, b, c]) q.enqueue(x);
    expect(q.remove(b.id)).toBe(true);
    expect(q.remove(b.id)).toBe(false);
    expect(q.sizeByPriority().get(0)).toBe(2);
    expect(drain(q)).toEqual([a.id, c.id]);
  });
});
