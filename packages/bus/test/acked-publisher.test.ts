import { waitFor } from "@inferd/testkit";
import { describe, expect, it } from "vitest";
import {
  AckedPublisher,
  type DropReason,
  ensureStream,
  jetStreamClient,
  jetstream,
  jetstreamManager,
} from "../src/index.ts";
import { useNats } from "./helpers.ts";

const enc = new TextEncoder();

async function storedMessages(nc: Parameters<typeof jetStreamClient>[0], stream: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
}

describe("bus - acknowledged publisher", () => {
  const nats = useNats();

  it("stores each message once, a repeated Nats-Msg-Id included", async () => {
    const nc = await nats.connect("acked-once");
    await ensureStream(nc, { name: "ACKED_ONCE", subjects: ["once.>"] });
    const drops: DropReason[] = [];
    const p = new AckedPublisher(jetStreamClient(nc), { onDropped: (r) => drops.push(r) });
    for (let i = 0; i < 200; i++) p.publish(`once.${i % 3}`, enc.encode(`m${i}`), { msgId: `m${i}` });
    p.publish("once.0", enc.encode("m7 again"), { msgId: "m7" });
    await p.flush();
    expect(p.buffered).toBe(0);
    expect(await storedMessages(nc, "ACKED_ONCE")).toBe(200);
    expect(drops).toEqual([]);
  });

  it("keeps what is published while the nats-server is down and stores it after the restart, in order", async () => {
    const nc = await nats.connect("acked-restart");
    await ensureStream(nc, { name: "ACKED_RESTART", subjects: ["restart.>"] });
    const drops: DropReason[] = [];
    const p = new AckedPublisher(jetStreamClient(nc), {
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
    const consumer = await jetstream(nc).consumers.get("ACKED_RESTART");
    const got: string[] = [];
    const messages = await consumer.fetch({ max_messages: 100, expires: 5_000 });
    for await (const m of messages) {
      got.push(new TextDecoder().decode(m.data));
      if (got.length === 100) break;
    }
    expect(got).toEqual([
      ...Array.from({ length: 50 }, (_, i) => `a${i}`),
      ...Array.from({ length: 50 }, (_, i) => `b${i}`),
    ]);
  });

  it("drops and reports beyond its buffer, and what is never acknowledged in time", async () => {
    const nc = await nats.connect("acked-drop");
    const drops: DropReason[] = [];
    // No stream takes these subjects: nothing is ever acknowledged.
    const p = new AckedPublisher(jetStreamClient(nc), {
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
});
