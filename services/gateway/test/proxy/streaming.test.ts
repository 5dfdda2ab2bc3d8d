import { once } from "node:events";
import { connect } from "node:net";
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

  it("streaming - the response headers leave in the same write as the events that came with the upstream's headers", async () => {
    const up = await startFakeUpstream("one-write");
    onTestFinished(() => up.close());
    const { app, url } = await build({ endpoints: [endpointOf(up)], listen: true });
    // What the gateway hands the kernel per write call on the client's socket (observed, not changed).
    const writes: string[] = [];
    app.server.on("connection", (socket: import("node:net").Socket) => {
      const write = socket._write.bind(socket);
      const writev = socket._writev!.bind(socket);
      socket._write = (chunk, encoding, cb) => {
        writes.push(Buffer.from(chunk).toString("latin1"));
        write(chunk, encoding, cb);
      };
      socket._writev = (chunks, cb) => {
        writes.push(chunks.map((c) => Buffer.from(c.chunk).toString("latin1")).join(""));
        writev(chunks, cb);
      };
    });
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toContain("data: [DONE]");
    // The fake model server sends its headers and its first event in one write.
    expect(writes[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n[0-9a-f]+\r\ndata: \{/);
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

  it("streaming - the wire: valid chunked framing on a kept-alive HTTP/1.1 socket, plain bytes for HTTP/1.0", async () => {
    const up = await startFakeUpstream("wire");
    onTestFinished(() => up.close());
    up.behaviour.tokens = 50;
    const { url } = await build({ endpoints: [endpointOf(up)], listen: true });
    const { port } = new URL(url);
    const body = JSON.stringify(chatBody({ stream: true, max_tokens: 50 }));
    const req = (version: string) =>
      `POST /v1/chat/completions HTTP/${version}\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

    // HTTP/1.1: two streams one after the other on one socket; each must de-chunk exactly.
    const socket = connect(Number(port), "127.0.0.1");
    onTestFinished(() => {
      socket.destroy();
    });
    await once(socket, "connect");
    let received = Buffer.alloc(0);
    socket.on("data", (c: Buffer) => {
      received = Buffer.concat([received, c]);
    });
    const nextResponse = async (): Promise<{ head: string; body: string }> => {
      for (;;) {
        const headEnd = received.indexOf("\r\n\r\n");
        if (headEnd >= 0) {
          const head = received.subarray(0, headEnd).toString("latin1");
          expect(head).toMatch(/transfer-encoding: chunked/i);
          // De-chunk: <hex size>\r\n<bytes>\r\n ... 0\r\n\r\n
          let at = headEnd + 4;
          const parts: Buffer[] = [];
          for (;;) {
            const lineEnd = received.indexOf("\r\n", at);
            if (lineEnd < 0) break;
            const size = Number.parseInt(received.subarray(at, lineEnd).toString("latin1"), 16);
            expect(Number.isNaN(size)).toBe(false);
            if (received.length < lineEnd + 2 + size + 2) break;
            expect(received.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString("latin1")).toBe("\r\n");
            if (size === 0) {
              received = received.subarray(lineEnd + 4);
              return { head, body: Buffer.concat(parts).toString("utf8") };
            }
            parts.push(received.subarray(lineEnd + 2, lineEnd + 2 + size));
            at = lineEnd + 4 + size;
          }
        }
        await once(socket, "data");
      }
    };
    for (let round = 0; round < 2; round++) {
      socket.write(req("1.1"));
      const { body: text } = await nextResponse();
      const events = text.split("\n\n").filter((e) => e !== "");
      expect(events.at(-1)).toBe("data: [DONE]");
      expect(events.filter((e) => e.includes('"content"')).length).toBeGreaterThanOrEqual(50);
      for (const e of events) expect(e.startsWith("data: ")).toBe(true);
    }

    // HTTP/1.0: no chunked encoding; the stream is the body up to the connection's end.
    const old = connect(Number(port), "127.0.0.1");
    onTestFinished(() => {
      old.destroy();
    });
    await once(old, "connect");
    old.write(req("1.0"));
    const chunks: Buffer[] = [];
    old.on("data", (c: Buffer) => chunks.push(c));
    await once(old, "end");
    const all = Buffer.concat(chunks).toString("utf8");
    const [head, text] = [all.slice(0, all.indexOf("\r\n\r\n")), all.slice(all.indexOf("\r\n\r\n") + 4)];
    expect(head).not.toMatch(/transfer-encoding/i);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(text.split("\n\n").filter((e) => e.includes('"content"')).length).toBeGreaterThanOrEqual(50);
  });
});
