import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import {
  canConnect,
  type NatsServerHandle,
  type RedisServerHandle,
  requireBinary,
  startNats,
  startRedis,
  waitFor,
} from "../src/index.ts";

function redisPing(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      resolve(data.toString().trim());
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

describe("testkit - servers", () => {
  const handles: Array<NatsServerHandle | RedisServerHandle> = [];
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.dispose()));
  });

  it("starts nats-server with JetStream and restarts it on the same port", async () => {
    const nats = await startNats();
    handles.push(nats);
    expect(nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(await canConnect("127.0.0.1", nats.port)).toBe(true);
    await nats.stop();
    expect(await canConnect("127.0.0.1", nats.port)).toBe(false);
    await nats.restart();
    expect(await canConnect("127.0.0.1", nats.port)).toBe(true);
  });

  it("starts redis-server that answers PING", async () => {
    const redis = await startRedis();
    handles.push(redis);
    expect(await redisPing(redis.port)).toBe("+PONG");
  });

  it("names the install command when a binary is missing", () => {
    expect(() => requireBinary("redis-server-that-does-not-exist")).toThrow(
      /was not found on PATH. Install it with/,
    );
    expect(() => requireBinary("nats-server", "INFERD_TEST_UNSET_VARIABLE")).not.toThrow();
  });

  it("waitFor reports the condition and the last error at the deadline", async () => {
    await expect(
      waitFor(
        () => {
          throw new Error("boom");
        },
        { timeoutMs: 50, message: "the impossible" },
      ),
    ).rejects.toThrow(/the impossible within 50 ms \(last error: boom\)/);
    let n = 0;
    await expect(waitFor(() => ++n >= 3 && n)).resolves.toBe(3);
  });
});

describe("testkit - ports", () => {
  it("finds a range of consecutive free ports", async () => {
    const { freePortRange } = await import("../src/index.ts");
    const base = await freePortRange(8);
    // Below the kernel's ephemeral range (service-kit's free-port.ts says why).
    const ephemeralLow = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0],
    );
    expect(base).toBeGreaterThanOrEqual(15_000);
    expect(base + 8).toBeLessThanOrEqual(ephemeralLow);
    for (let p = base; p < base + 8; p++) expect(await canConnect("127.0.0.1", p, 200)).toBe(false);
  });
});
