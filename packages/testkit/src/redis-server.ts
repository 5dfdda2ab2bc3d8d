import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@inferd/service-kit/free-port";
import { requireBinary } from "./binaries.ts";
import { containersAvailable, loadTestcontainers, TEST_SERVERS_IMAGE } from "./containers.ts";
import { containerLifecycle, retryOnPortClash, startLocalServer } from "./local-server.ts";
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
  // A server with its own arguments or TLS files runs locally; the plain one follows the backend decision.
  if (
    !options.extraArgs?.length &&
    !options.tls &&
    !process.env.INFERD_REDIS_SERVER_BIN &&
    (await containersAvailable())
  )
    return startRedisContainer();
  const binary = requireBinary("redis-server", "INFERD_REDIS_SERVER_BIN");
  return retryOnPortClash(() => startRedisBinary(binary, options));
}

async function startRedisBinary(binary: string, options: StartRedisOptions): Promise<RedisServerHandle> {
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

/** The same server in a container of the local test image (host network), whatever the backend decision. */
export async function startRedisContainer(): Promise<RedisServerHandle> {
  const { GenericContainer, Wait } = await loadTestcontainers();
  const port = await freePort();
  // Host networking: the server listens on loopback like the local binary does.
  const container = await new GenericContainer(TEST_SERVERS_IMAGE)
    .withNetworkMode("host")
    .withCommand([
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ])
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  return { url: `redis://127.0.0.1:${port}`, host: "127.0.0.1", port, ...containerLifecycle(container) };
}
