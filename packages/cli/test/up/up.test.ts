import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, openKv } from "@inferd/bus";
import { canConnect, waitFor } from "@inferd/testkit";
import { describe, expect, it } from "vitest";
import { parseUpArgs } from "../../src/commands/up.ts";

const main = join(import.meta.dirname, "../../src/main.ts");

describe("cli up - command", () => {
  it("validates its flags with a clear message", () => {
    expect(() => parseUpArgs(["--sims=-1"])).toThrow(/--sims: must be an integer 0..256, got "-1"/);
    expect(() => parseUpArgs(["--kv-events-encoding", "json"])).toThrow(/must be array or map/);
    expect(parseUpArgs(["--sims", "2", "--ports", "auto"])).toMatchObject({
      sims: 2,
      ports: "auto",
      model: "Qwen/Qwen3-32B",
      scorerReplicas: 1,
      gatewayReplicas: 1,
    });
    expect(parseUpArgs(["--scorer-replicas", "3", "--gateway-replicas", "2"])).toMatchObject({
      scorerReplicas: 3,
      gatewayReplicas: 2,
    });
    expect(() => parseUpArgs(["--scorer-replicas", "0"])).toThrow(
      /--scorer-replicas: must be an integer 1..16/,
    );
    expect(parseUpArgs([]).kvEventsTopic).toBe("kv@{pod}@{model}");
    expect(parseUpArgs(["--kv-events-topic", ""]).kvEventsTopic).toBe("");
    expect(parseUpArgs([]).scorerMode).toBe("nats");
    expect(parseUpArgs(["--scorer-mode", "embedded"]).scorerMode).toBe("embedded");
    expect(() => parseUpArgs(["--scorer-mode", "inline"])).toThrow(/--scorer-mode: must be nats or embedded/);
    expect(() => parseUpArgs(["--scorer-mode", "embedded", "--scorer-replicas", "2"])).toThrow(
      /not with --scorer-mode embedded/,
    );
  });

  it("takes external servers: several NATS URLs and Redis Cluster seeds", () => {
    const opts = parseUpArgs([
      "--nats-url",
      "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
      "--redis-cluster-nodes",
      "127.0.0.1:7000,127.0.0.1:7001,",
    ]);
    expect(opts.natsUrl).toBe("nats://127.0.0.1:4222,nats://127.0.0.1:4223");
    expect(opts.redisClusterNodes).toEqual(["127.0.0.1:7000", "127.0.0.1:7001"]);
    expect(parseUpArgs([])).not.toHaveProperty("natsUrl");
  });

  it("starts nats-server and redis-server, prints the addresses, and stops cleanly on SIGINT", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "inferd-up-"));
    const child = spawn(
      process.execPath,
      [main, "up", "--ports", "auto", "--sims", "0", "--services", "none", "--state-dir", stateDir],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      out += c;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const line = await waitFor(() => out.split("\n").find((l) => l.startsWith("INFERD_UP_READY ")), {
        timeoutMs: 30_000,
        message: "the ready line",
      });
      const addresses = JSON.parse(line.slice("INFERD_UP_READY ".length));
      const natsPort = Number(new URL(addresses.nats).port);
      const redisPort = Number(new URL(addresses.redis).port);
      expect(await canConnect("127.0.0.1", redisPort)).toBe(true);
      const nc = await connectNats({ servers: addresses.nats, name: "up-test" });
      await openKv(nc, "PROBE"); // JetStream answers
      await nc.close();
      expect(out).toContain("inferd is up.");

      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(await canConnect("127.0.0.1", natsPort)).toBe(false);
      expect(await canConnect("127.0.0.1", redisPort)).toBe(false);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
    }
  });
});
