import diagnostics from "node:diagnostics_channel";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { afterUpstreamWrite } from "../../src/proxy/after-upstream-write.ts";
import { callUpstream } from "../../src/proxy/upstream-call.ts";

describe("afterUpstreamWrite", () => {
  it("after-upstream-write - work queued before a dispatch on a kept-alive connection runs after its headers are written", async () => {
    const server = createServer((_req, res) => res.end("ok"));
    // The connection must stay open between the two requests, however slow the machine.
    server.keepAliveTimeout = 60_000;
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const agent = new Agent({ connections: 1 });
    onTestFinished(() => agent.destroy());
    const options = {
      origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      path: "/",
      method: "GET" as const,
    };
    const signal = new AbortController().signal;
    // The first request opens the connection the second one reuses.
    await (await callUpstream(agent, options, signal)).body.text();

    const order: string[] = [];
    const onHeaders = () => {
      order.push("headers written");
    };
    diagnostics.subscribe("undici:client:sendHeaders", onHeaders);
    onTestFinished(() => {
      diagnostics.unsubscribe("undici:client:sendHeaders", onHeaders);
    });
    afterUpstreamWrite(() => {
      order.push("deferred work");
    });
    const res = await callUpstream(agent, options, signal);
    expect(await res.body.text()).toBe("ok");
    await new Promise<void>((r) => afterUpstreamWrite(r));
    expect(order).toEqual(["headers written", "deferred work"]);
  });
});
