import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "@inferd/testkit";
import { Agent } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { type BodyReader, callUpstream, type UpstreamBody } from "../../src/proxy/upstream-call.ts";

/** A real HTTP server whose handler the test gives; returns its origin. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  onTestFinished(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function agent(connections = 4): Agent {
  const a = new Agent({ connections });
  onTestFinished(() => a.destroy());
  return a;
}

/** Reads a body to its end; the chunks and how it ended. */
function collect(body: UpstreamBody): Promise<{ text: string; error: Error | undefined }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const reader: BodyReader = {
      data: (c) => chunks.push(c),
      end: () => resolve({ text: Buffer.concat(chunks).toString(), error: undefined }),
      error: (err) => resolve({ text: Buffer.concat(chunks).toString(), error: err }),
    };
    body.read(reader);
  });
}

const post = (origin: string) => ({ origin, path: "/x", method: "POST" as const, body: "{}" });

describe("callUpstream", () => {
  it("resolves at the headers and hands every chunk to the reader, those that came before it too", async () => {
    let finish: (() => void) | undefined;
    const big = "x".repeat(200 * 1024);
    const origin = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "x-a": "1" });
      res.write("one,");
      // More than the 64 kB held for a body nobody reads yet: the upstream is paused, then resumed.
      res.write(big);
      finish = () => res.end(",three");
    });
    const res = await callUpstream(agent(), post(origin), new AbortController().signal);
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-a"]).toBe("1");
    await waitFor(() => finish !== undefined, { message: "server answered" });
    // No reader yet: chunks are held until one attaches.
    const read = collect(res.body);
    finish!();
    expect(await read).toEqual({ text: `one,${big},three`, error: undefined });
  });

  it("text() and json() read whole answers; a non-2xx status is an answer, not an error", async () => {
    const origin = await serve((req, res) => {
      res.writeHead(req.headers["x-status"] === "503" ? 503 : 200, { "content-type": "application/json" });
      res.end('{"a":[1,2]}');
    });
    const a = agent();
    const ok = await callUpstream(a, post(origin), new AbortController().signal);
    expect(await ok.body.json()).toEqual({ a: [1, 2] });
    const busy = await callUpstream(
      a,
      { ...post(origin), headers: { "x-status": "503" } },
      new AbortController().signal,
    );
    expect(busy.statusCode).toBe(503);
    expect(await busy.body.text()).toBe('{"a":[1,2]}');
  });

  it("rejects on a refused connection and at once when aborted while waiting for a connection", async () => {
    const dead = await serve(() => undefined);
    const port = Number(new URL(dead).port);
    await expect(
      callUpstream(agent(), post("http://127.0.0.1:1"), new AbortController().signal),
    ).rejects.toThrow(/ECONNREFUSED|connect/);
    // One connection, held by a request that never gets an answer: the second one queues.
    const a = agent(1);
    const first = new AbortController();
    const held = callUpstream(a, post(`http://127.0.0.1:${port}`), first.signal);
    const queued = new AbortController();
    const second = callUpstream(a, post(`http://127.0.0.1:${port}`), queued.signal);
    queued.abort(new Error("client went away"));
    await expect(second).rejects.toThrow("client went away");
    first.abort();
    await expect(held).rejects.toThrow();
  });

  it("an abort or a server dying mid-body ends the reader with an error; abort() cuts the answer", async () => {
    const origin = await serve((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
      if (req.headers["x-die"] === "1") setImmediate(() => res.socket?.destroy());
    });
    const a = agent();
    const abort = new AbortController();
    const res = await callUpstream(a, post(origin), abort.signal);
    let got = "";
    const read = new Promise<Error | undefined>((resolve) =>
      res.body.read({
        data: (c) => {
          got += c.toString();
        },
        end: () => resolve(undefined),
        error: resolve,
      }),
    );
    await waitFor(() => got === "data: 1\n\n", { message: "first event read" });
    abort.abort(new Error("client closed"));
    expect((await read)?.message).toBe("client closed");

    const dies = await callUpstream(
      a,
      { ...post(origin), headers: { "x-die": "1" } },
      new AbortController().signal,
    );
    const died = await collect(dies.body);
    expect(died.text).toBe("data: 1\n\n");
    expect(died.error).toBeInstanceOf(Error);

    const cut = await callUpstream(a, post(origin), new AbortController().signal);
    const cutRead = collect(cut.body);
    cut.body.abort(new Error("observer failed"));
    expect((await cutRead).error?.message).toBe("observer failed");
  });
});
