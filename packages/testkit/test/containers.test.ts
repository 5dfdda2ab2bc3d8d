import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  canConnect,
  type NatsServerHandle,
  type RedisServerHandle,
  serverBackend,
  startNatsContainer,
  startRedisContainer,
  TEST_SERVERS_IMAGE,
} from "../src/index.ts";

const run = promisify(execFile);

/**
 * The Testcontainers path with a real Docker engine (./dev.sh test starts dockerd): the test
 * servers run in containers of a locally built image on the host network; nothing is pulled.
 */
describe("testkit - servers in containers of the local test image", () => {
  const handles: Array<NatsServerHandle | RedisServerHandle> = [];
  beforeAll(async () => {
    await run("bash", [join(import.meta.dirname, "../../../deploy/image/test-images.sh")], {
      timeout: 900_000,
    });
  }, 900_000);
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.dispose()));
  });

  it("says which backend the other tests use", async () => {
    const backend = await serverBackend();
    console.log(`[testkit] the other test files run nats-server and redis-server as: ${backend}`);
    expect(["containers", "binaries"]).toContain(backend);
    await run("docker", ["image", "inspect", TEST_SERVERS_IMAGE]);
  });

  it("runs nats-server with JetStream on loopback and restarts it on the same port", async () => {
    const nats = await startNatsContainer({});
    handles.push(nats);
    expect(nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(await canConnect("127.0.0.1", nats.port)).toBe(true);
    await nats.restart();
    expect(await canConnect("127.0.0.1", nats.port)).toBe(true);
  }, 120_000);

  it("runs redis-server on loopback", async () => {
    const redis = await startRedisContainer();
    handles.push(redis);
    expect(await canConnect("127.0.0.1", redis.port)).toBe(true);
  }, 120_000);
});
