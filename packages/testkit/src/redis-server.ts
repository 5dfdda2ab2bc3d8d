import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireBinary } from "./binaries.ts";
import { containersAvailable } from "./containers.ts";
import { freePort } from "./free-port.ts";
import { containerLifecycle, startLocalServer } from "./local-server.ts";
import { canConnect } from "./tcp.ts";

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

export interface StartRedisOptions {
  /** More redis-server arguments (`--requirepass p`, `--tls-port ...`, `--aclfile ...`). */
  extraArgs?: string[];
  /**
   * TLS only: serve TLS on the returned port (plain port 0) with these PEM files; the
   * client must present a certificate signed by the CA.
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

/** Starts a real redis-server (no persistence) on a free port. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServerHandle> {
  if (await containersAvailable()) return startRedisContainer();
  const binary = requireBinary("redis-server", "INFERD_REDIS_SERVER_BIN");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "inferd-redis-"));
  const tls = options.tls;
  const args = [
    ...(tls
      ? [
          "--port",
          "0",
          "--tls-port",
          String(port),
          "--tls-cert-file",
          tls.certFile,
          "--tls-key-file",
          tls.keyFile,
          "--tls-ca-cert-file",
          tls.caFile,
        ]
      : ["--port", String(port)]),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    ...(options.extraArgs ?? []),
  ];
  const server = await startLocalServer({
    name: "redis-server",
    binary,
    args,
    dataDir: dir,
    ready: () => canConnect("127.0.0.1", port),
  });
  return { url: `${tls ? "rediss" : "redis"}://127.0.0.1:${port}`, host: "127.0.0.1", port, ...server };
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
    ...containerLifecycle(container),
  };
}
