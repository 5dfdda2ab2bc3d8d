import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireBinary } from "./binaries.ts";
import { containersAvailable } from "./containers.ts";
import { freePort } from "./free-port.ts";
import { type ManagedProcess, startProcess } from "./process.ts";
import { canConnect } from "./tcp.ts";
import { waitFor } from "./wait-for.ts";

export interface RedisServerHandle {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
  /** Stops and starts on the same port; data is NOT persisted (a restarted Redis is empty). */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** Starts a real redis-server (no persistence) on a free port. */
export async function startRedis(): Promise<RedisServerHandle> {
  if (await containersAvailable()) return startRedisContainer();
  const binary = requireBinary("redis-server", "INFERD_REDIS_SERVER_BIN");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "inferd-redis-"));
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
  ];
  let proc: ManagedProcess | undefined;
  const start = async () => {
    proc = startProcess({ command: binary, args });
    const current = proc;
    await waitFor(
      async () => {
        if (current.child.exitCode !== null) throw new Error(`redis-server exited: ${current.output()}`);
        return canConnect("127.0.0.1", port);
      },
      { timeoutMs: 15_000, message: `redis-server to listen on ${port}` },
    );
  };
  await start();
  const stop = async () => {
    await proc?.stop();
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startRedisContainer(): Promise<RedisServerHandle> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const container = await new GenericContainer("redis:7-alpine")
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  const host = container.getHost();
  const port = container.getMappedPort(6379);
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    stop: async () => {
      await container.stop({ remove: false });
    },
    restart: async () => {
      await container.restart();
    },
    dispose: async () => {
      await container.stop();
    },
  };
}
