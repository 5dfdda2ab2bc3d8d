import { waitFor } from "@inferd/testkit";
import { headers } from "@nats-io/nats-core";
import { describe, expect, it } from "vitest";
import { ackError } from "../src/acked-publisher.ts";
import {
  AckedPublisher,
  type DropReason,
  ensureStream,
  type jetStreamClient,
  jetstream,
  jetstreamManager,
} from "../src/index.ts";
import { useNats } from "./helpers.ts";

const enc = new TextEncoder();

async function storedMessages(nc: Parameters<typeof jetStreamClient>[0], stream: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
}

/** The first `n` messages of a stream, as text, in stream order. */
async function storedInOrder(
  nc: Parameters<typeof jetStreamClient>[0],
  stream: string,
  n: number,
): Promise<string[]> {
  const consumer = await jetstream(nc).consumers.get(stream);
  const got: string[] = [];
  for await (const m of await consumer.fetch({ max_messages: n, expires: 5_000 })) {
    got.push(new TextDecoder().decode(m.data));
    if (got.length === n) break;
  }
  return got;
}

describe("bus - acknowledged publisher", () => {
  const nats = useNats();

  it("stores each message once, a repeated Nats-Msg-Id included", async () => {
    const nc = await nats.connect("acked-once");
    await ensureStream(nc, { name: "ACKED_ONCE", subjects: ["once.>"] });
    const drops: DropReason[] = [];
    const p = new AckedPublisher(nc, { onDropped: (r) => drops.push(r) });
    for (let i = 0; i < 200; i++) p.publish(`once.${i % 3}`, enc.encode(`m${i}`), { msgId: `m${i}` });
    p.publish("once.0", enc.encode("m7 again"), { msgId: "m7" });
    await p.flush();
    expect(p.buffered).toBe(0);
    expect(await storedMessages(nc, "ACKED_ONCE")).toBe(200);
    expect(drops).toEqual([]);
  });

  it("tells each publisher the stream sequence its message got, and whether it was a duplicate", async () => {
    const nc = await nats.connect("acked-seq");
    await ensureStream(nc, { name: "ACKED_SEQ", subjects: ["seq.>"] });
    const acks: string[] = [];
    const p = new AckedPublisher(nc);
    for (const [subject, id] of [
      ["seq.a", "x"],
      ["seq.b", "y"],
      ["seq.a", "x"],
      ["seq.c", "z"],
    ] as const)
      p.publish(subject, enc.encode(id), {
        msgId: id,
        onAcked: (ack) => acks.push(`${id}@${ack.seq}${ack.duplicate ? " dup" : ""}`),
      });
    await p.flush();
    // The repeat of "x" is not stored: its ack names the first copy's sequence.
    expect(acks).toEqual(["x@1", "y@2", "x@1 dup", "z@3"]);
  });

  it("keeps what is published while the nats-server is down and stores it after the restart, in order", async () => {
    const nc = await nats.connect("acked-restart");
    await ensureStream(nc, { name: "ACKED_RESTART", subjects: ["restart.>"] });
    const drops: DropReason[] = [];
    const p = new AckedPublisher(nc, {
      timeoutMs: 1_000,
      onDropped: (r) => drops.push(r),
      isClosed: () => nc.isClosed(),
    });
    void (async () => {
      for await (const s of nc.status()) if (s.type === "disconnect") p.hold();
    })();
    for (let i = 0; i < 50; i++) p.publish("restart.a", enc.encode(`a${i}`), { msgId: `a${i}` });
    await p.flush();
    await nats.server().stop();
    // Published while no server answers: the caller is never blocked nor failed.
    for (let i = 0; i < 50; i++) p.publish("restart.b", enc.encode(`b${i}`), { msgId: `b${i}` });
    expect(p.buffered).toBeGreaterThan(0);
    await nats.server().restart();
    await waitFor(async () => p.buffered === 0, {
      timeoutMs: 60_000,
      message: "every message acknowledged after the restart",
    });
    expect(await storedMessages(nc, "ACKED_RESTART")).toBe(100);
    expect(drops).toEqual([]);
    // Stored in publish order: a consumer applying the stream in order sees no late message.
    expect(await storedInOrder(nc, "ACKED_RESTART", 100)).toEqual([
      ...Array.from({ length: 50 }, (_, i) => `a${i}`),
      ...Array.from({ length: 50 }, (_, i) => `b${i}`),
    ]);
  });

  it("a message published while the server is down is stored before those published once it is back", async () => {
    const nc = await nats.connect("acked-probe");
    await ensureStream(nc, { name: "ACKED_PROBE", subjects: ["probe.>"] });
    const p = new AckedPublisher(nc, { timeoutMs: 1_000, isClosed: () => nc.isClosed() });
    let reconnects = 0;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") p.hold();
        if (s.type === "reconnect") reconnects++;
      }
    })();
    p.publish("probe.a", enc.encode("a"), { msgId: "a" });
    await p.flush();
    await nats.server().stop();
    // Sent into a connection that is not back: the client buffers it, the restarting server may
    // drop it before its streams are loaded. Those published after the reconnect must wait for it.
    p.publish("probe.b", enc.encode("b"), { msgId: "b" });
    await nats.server().restart();
    await waitFor(() => reconnects > 0, { timeoutMs: 30_000, message: "client reconnected" });
    for (let i = 0; i < 20; i++) p.publish("probe.c", enc.encode(`c${i}`), { msgId: `c${i}` });
    await waitFor(async () => p.buffered === 0, { timeoutMs: 60_000, message: "every message acknowledged" });
    expect(await storedInOrder(nc, "ACKED_PROBE", 22)).toEqual([
      "a",
      "b",
      ...Array.from({ length: 20 }, (_, i) => `c${i}`),
    ]);
  });

  it("drops and reports beyond its buffer, and what is never acknowledged in time", async () => {
    const nc = await nats.connect("acked-drop");
    const drops: DropReason[] = [];
    // No stream takes these subjects: nothing is ever acknowledged.
    const p = new AckedPublisher(nc, {
      maxBuffered: 5,
      timeoutMs: 200,
      maxAgeMs: 500,
      maxBackoffMs: 100,
      onDropped: (r) => drops.push(r),
    });
    for (let i = 0; i < 8; i++) p.publish(`nowhere.${i}`, enc.encode("x"), { msgId: `x${i}` });
    expect(drops).toEqual(["overflow", "overflow", "overflow"]);
    await p.flush();
    expect(drops.filter((r) => r === "expired")).toHaveLength(5);
    p.close();
    p.publish("nowhere.late", enc.encode("x"), { msgId: "late" });
    expect(drops.at(-1)).toBe("closed");
  });

  it("does not count a message the stream refused as stored: it is retried, then given up", async () => {
    const nc = await nats.connect("acked-refused");
    // The stream exists but refuses messages over 128 bytes (headers included) with a JetStream API error.
    await ensureStream(nc, { name: "ACKED_REFUSED", subjects: ["refused.>"], max_msg_size: 128 });
    const drops: DropReason[] = [];
    const p = new AckedPublisher(nc, {
      timeoutMs: 1_000,
      maxAgeMs: 400,
      maxBackoffMs: 100,
      onDropped: (r) => drops.push(r),
    });
    p.publish("refused.a", enc.encode("small"), { msgId: "ok" });
    p.publish("refused.a", new Uint8Array(256), { msgId: "too-big" });
    await p.flush();
    expect(drops).toEqual(["expired"]);
    expect(await storedMessages(nc, "ACKED_REFUSED")).toBe(1);
  });

  it("stores the messages of a stream created after they were first refused (no responders)", async () => {
    const nc = await nats.connect("acked-late-stream");
    const drops: DropReason[] = [];
    const p = new AckedPublisher(nc, {
      timeoutMs: 1_000,
      maxBackoffMs: 100,
      onDropped: (r) => drops.push(r),
    });
    for (let i = 0; i < 20; i++) p.publish("late.a", enc.encode(`m${i}`), { msgId: `m${i}` });
    await waitFor(async () => p.buffered === 20, { timeoutMs: 5_000, message: "all 20 held" });
    await ensureStream(nc, { name: "ACKED_LATE", subjects: ["late.>"] });
    await p.flush();
    expect(drops).toEqual([]);
    expect(await storedMessages(nc, "ACKED_LATE")).toBe(20);
  });

  it("drops what awaits its ack when closed, and settles every waiter", async () => {
    const nc = await nats.connect("acked-close");
    const drops: DropReason[] = [];
    const p = new AckedPublisher(nc, { timeoutMs: 60_000, onDropped: (r) => drops.push(r) });
    // No stream: the 503 answers may or may not have come back before close(); either way each
    // message ends as exactly one "closed" drop and flush() resolves.
    for (let i = 0; i < 5; i++) p.publish(`void.${i}`, enc.encode("x"), { msgId: `v${i}` });
    const flushed = p.flush();
    p.close();
    await flushed;
    expect(p.buffered).toBe(0);
    expect(drops).toEqual(["closed", "closed", "closed", "closed", "closed"]);
  });
});

describe("bus - PubAck reading", () => {
  const ack = (text: string, status?: number) => {
    const h = status === undefined ? undefined : headers(status, "No Responders");
    return { data: enc.encode(text), headers: h };
  };
  it("accepts a PubAck and refuses errors, empty replies and status messages", () => {
    expect(ackError(ack('{"stream":"S","seq":3}'))).toBeUndefined();
    expect(ackError(ack('{"stream":"S","seq":3,"duplicate":true}'))).toBeUndefined();
    expect(
      ackError(ack('{"error":{"code":400,"err_code":10054,"description":"too big"},"stream":"S"}'))?.message,
    ).toContain("too big");
    expect(ackError(ack(""))).toBeDefined();
    expect(ackError(ack("", 503))?.message).toContain("503");
  });
});
