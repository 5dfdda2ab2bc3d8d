import { Writable } from "node:stream";
import { Counter } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  createLogger,
  createMetricsRegistry,
  type OpsServer,
  onShutdown,
  startOpsServer,
} from "../src/index.ts";

describe("service-kit - ops server", () => {
  let server: OpsServer | undefined;
  afterEach(async () => server?.close());

  it("serves /metrics, /healthz and /readyz that follows the links", async () => {
    const registry = createMetricsRegistry("test");
    new Counter({ name: "inferd_things_total", help: "things", registers: [registry] }).inc(3);
    let natsUp = false;
    server = await startOpsServer({
      port: 0,
      host: "127.0.0.1",
      registry,
      readiness: [{ name: "nats", check: () => natsUp }],
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('inferd_things_total{service="test"} 3');
    expect(metrics).toContain("inferd_process_cpu_user_seconds_total");
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: "not ready", checks: { nats: false } });
    natsUp = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});

describe("service-kit - logger and shutdown", () => {
  it("writes one JSON line per event with the service name", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    createLogger({ service: "scorer", destination: sink }).info({ reqId: "r1" }, "picked");
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ service: "scorer", reqId: "r1", msg: "picked", level: 30 });
  });

  it("runs every step in order, even after a failing one, then exits with 1", async () => {
    const order: string[] = [];
    const logger = createLogger({ service: "t", level: "silent" });
    let exitCode: number | undefined;
    const trigger = onShutdown(
      logger,
      [
        { name: "drain", run: async () => void order.push("drain") },
        {
          name: "broken",
          run: () => {
            throw new Error("x");
          },
        },
        { name: "close", run: () => void order.push("close") },
      ],
      {
        signals: [],
        exit: (code) => {
          exitCode = code;
        },
      },
    );
    await trigger();
    expect(order).toEqual(["drain", "close"]);
    expect(exitCode).toBe(1);
  });
});
