import { jetStreamClient } from "@inferd/bus";
import { decode, KvEventBatchSchema, make, subjects as subjectsOf } from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
import { Counter, Registry } from "prom-client";
import { expect, it } from "vitest";
import { BatchHandoff } from "../../src/handoff.ts";
import { BatchPublisher } from "../../src/ingest/jetstream-publisher.ts";
import { labelChildren } from "../../src/metrics.ts";
import { ensureKvEventsStream } from "../../src/stream.ts";
import { testObservers } from "../helpers.ts";
import { MODEL, useServers } from "../support/stack.ts";

const t = useServers();

const batch = (pod: string, seq: number) =>
  make(KvEventBatchSchema, { model: MODEL, pod, seq: BigInt(seq), tsSeconds: 1 + seq });

async function streamed(prefix: string, count: number): Promise<{ pod: string; seq: bigint; id: string }[]> {
  const subjects = subjectsOf(prefix);
  const consumer = await jetStreamClient(t.nc).consumers.get(subjects.streams.kvEvents);
  const out: { pod: string; seq: bigint; id: string }[] = [];
  const messages = await consumer.fetch({ max_messages: count, expires: 5_000 });
  for await (const m of messages) {
    const b = decode(KvEventBatchSchema, m.data);
    out.push({ pod: b.pod, seq: b.seq, id: m.headers?.get("Nats-Msg-Id") ?? "" });
  }
  return out;
}

it("kv-index - batches published in one turn are stored in call order, each with its message id", async () => {
  const prefix = "pubturn";
  const subjects = subjectsOf(prefix);
  await ensureKvEventsStream(t.nc, subjects, { maxAgeSeconds: 600, maxBytes: 1 << 24 });
  const { logger, metrics } = testObservers();
  const publisher = new BatchPublisher(t.nc, subjects, { logger, metrics });
  const sent = [batch("a", 0), batch("b", 0), batch("a", 1), batch("c", 0), batch("b", 1)];
  for (const [i, b] of sent.entries()) publisher.publish(b, `id-${i}`);
  // Held until the end of the turn, then sent together.
  expect(publisher.inFlight).toBe(sent.length);
  await publisher.flush();
  expect(publisher.inFlight).toBe(0);
  expect(await streamed(prefix, sent.length)).toEqual(
    sent.map((b, i) => ({ pod: b.pod, seq: b.seq, id: `id-${i}` })),
  );
});

it("kv-index - the publisher's back-pressure: no promise below maxInFlight, one that resolves once acknowledged at it", async () => {
  const prefix = "pubpressure";
  const subjects = subjectsOf(prefix);
  await ensureKvEventsStream(t.nc, subjects, { maxAgeSeconds: 600, maxBytes: 1 << 24 });
  const { logger, metrics } = testObservers();
  const publisher = new BatchPublisher(t.nc, subjects, { logger, metrics }, { maxInFlight: 3 });
  publisher.publish(batch("a", 0), "p-0");
  publisher.publish(batch("a", 1), "p-1");
  expect(publisher.whenReady()).toBeUndefined();
  publisher.publish(batch("a", 2), "p-2");
  // At the bound within the turn: the held batches go out now, or their acks could never come.
  const wait = publisher.whenReady();
  expect(wait).toBeInstanceOf(Promise);
  await wait;
  await waitFor(() => publisher.inFlight === 0, { timeoutMs: 10_000, message: "every batch acknowledged" });
  expect((await streamed(prefix, 3)).map((s) => s.id)).toEqual(["p-0", "p-1", "p-2"]);
});

it("kv-index - labelChildren counts under the right label, and past its bound through the parent counter", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "t_total", help: "t", labelNames: ["kind"], registers: [registry] });
  const of = labelChildren(counter, "kind", 2);
  of("a").inc();
  of("a").inc(2);
  of("b").inc();
  of("c").inc(4); // third value: past the bound, still counted
  of("c").inc();
  const values = (await counter.get()).values.map((v) => [v.labels.kind, v.value]);
  expect(Object.fromEntries(values)).toEqual({ a: 3, b: 1, c: 5 });
});

it("kv-index - the publisher hands each stored batch over at its stream sequence; the stored bytes decode to it", async () => {
  const prefix = "pubhandoff";
  const subjects = subjectsOf(prefix);
  await ensureKvEventsStream(t.nc, subjects, { maxAgeSeconds: 600, maxBytes: 1 << 24 });
  const { logger, metrics } = testObservers();
  const handoff = new BatchHandoff();
  const publisher = new BatchPublisher(t.nc, subjects, { logger, metrics }, { handoff });
  const sent = [batch("a", 0), batch("b", 0), batch("a", 1)];
  for (const [i, b] of sent.entries()) publisher.publish(b, `h-${i}`);
  // A repeat of a stored message id (a replayed copy) is not stored again, so not handed over.
  publisher.publish(make(KvEventBatchSchema, { ...batch("a", 1), replayed: true }), "h-2");
  await publisher.flush();
  expect(handoff.size).toBe(3);
  const consumer = await jetStreamClient(t.nc).consumers.get(subjects.streams.kvEvents);
  const messages = await consumer.fetch({ max_messages: 3, expires: 5_000 });
  let n = 0;
  for await (const m of messages) {
    const handed = handoff.take(m.seq, m.subject, m.data);
    expect(handed).toBe(sent[n]);
    expect(decode(KvEventBatchSchema, m.data)).toEqual(handed);
    n++;
  }
  expect(n).toBe(3);
  expect([handoff.hits, handoff.misses, handoff.size]).toEqual([3, 0, 0]);
});
