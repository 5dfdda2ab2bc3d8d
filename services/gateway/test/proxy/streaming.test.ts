import { RequestPhase } from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
import { request } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { startFakeUpstream } from "../fake-upstream.ts";
import { build, chatBody, endpointOf } from "../helper.ts";

describe("streaming", () => {
  it("streaming - a slow client slows the model server down (backpressure) and loses nothing", async () => {
    const up = await startFakeUpstream("big");
    onTestFinished(() => up.close());
    up.behaviour.bigChunks = 400; // 25 MiB of SSE
    const { url } = await build({ endpoints: [endpointOf(up)], listen: true });
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    expect(res.statusCode).toBe(200);
    // The client reads nothing: the gateway must stop reading the model server too, so the
    // model server stays blocked on a full socket instead of finishing into gateway memory.
    const blocked = () => up.drainWaitSince !== undefined && performance.now() - up.drainWaitSince > 500;
    await waitFor(blocked, { message: "model server blocked by the slow client" });
    expect(up.bigWritten).toBeLessThan(400);
    let events = 0;
    let rest = "";
    for await (const chunk of res.body) {
      const parts = (rest + (chunk as Buffer).toString("utf8")).split("\n\n");
      rest = parts.pop()!;
      events += parts.length;
    }
    expect(events).toBe(401); // 400 chunks + [DONE]
  });

  it("streaming - a client that goes away mid-stream cancels the upstream request", async () => {
    const up = await startFakeUpstream("slow");
    onTestFinished(() => up.close());
    up.behaviour.tokens = 200;
    up.behaviour.delayMs = 10;
    const { url, events, app } = await build({ endpoints: [endpointOf(up)], listen: true });
    const abort = new AbortController();
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "gone" },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: 200 })),
      signal: abort.signal,
    });
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    abort.abort();
    await waitFor(() => up.closedEarly === 1, { message: "upstream stream cancelled" });
    await waitFor(() => events.last("gone")?.phase === RequestPhase.FAILED, { message: "failure recorded" });
    expect(events.last("gone")!.errorCode).toBe("client_closed");
    expect(app.upstreamPool.inFlight("slow")).toBe(0);
  });
});
