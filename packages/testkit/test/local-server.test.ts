import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { retryOnPortClash, ServerExitedError, startLocalServer } from "../src/local-server.ts";

const neverReady = async () => false;

describe("startLocalServer", () => {
  it("fails with the server's output as soon as it exits, instead of waiting out the start deadline", async () => {
    const started = startLocalServer({
      name: "fake-server",
      binary: "/bin/sh",
      args: ["-c", "echo 'listen tcp 127.0.0.1:4222: bind: address already in use'; exit 1"],
      dataDir: mkdtempSync(join(tmpdir(), "inferd-local-server-")),
      ready: neverReady,
    });
    const err = await started.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServerExitedError);
    expect(String(err)).toMatch(/fake-server exited while starting: .*address already in use/s);
  });
});

describe("retryOnPortClash", () => {
  it("starts again (with the fresh ports the start function picks) after a port clash", async () => {
    let calls = 0;
    const value = await retryOnPortClash(async () => {
      calls++;
      if (calls < 3) throw new ServerExitedError("nats-server exited while starting: address already in use");
      return "serving";
    });
    expect(value).toBe("serving");
    expect(calls).toBe(3);
  });

  it("gives up after the last attempt and passes any other failure through at once", async () => {
    let calls = 0;
    const clash = () => {
      calls++;
      return Promise.reject(
        new ServerExitedError("redis-server exited while starting: Address already in use"),
      );
    };
    await expect(retryOnPortClash(clash, 2)).rejects.toThrow(/Address already in use/);
    expect(calls).toBe(2);

    calls = 0;
    const broken = () => {
      calls++;
      return Promise.reject(new ServerExitedError("nats-server exited while starting: bad config"));
    };
    await expect(retryOnPortClash(broken)).rejects.toThrow(/bad config/);
    expect(calls).toBe(1);
  });
});
