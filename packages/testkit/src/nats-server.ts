import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@inferd/service-kit/free-port";
import { requireBinary } from "./binaries.ts";
import { containersAvailable, loadTestcontainers, TEST_SERVERS_IMAGE } from "./containers.ts";
import { containerLifecycle, retryOnPortClash, startLocalServer } from "./local-server.ts";

export interface NatsServerHandle {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** http://127.0.0.1:<monitor port>: the server's monitoring endpoints (`/varz`, `/connz`, `/healthz`). */
  readonly monitorUrl: string;
  /** Stops the server (keeps the JetStream store so restart() resumes it). */
  stop(): Promise<void>;
  /** Stops and starts the server on the same port with the same JetStream store. */
  restart(): Promise<void>;
  /** Stops the server and deletes its store. */
  dispose(): Promise<void>;
}

export interface StartNatsOptions {
  /** JetStream on (default true). */
  jetstream?: boolean;
  /**
   * More nats-server arguments (auth, TLS: `--user u --pass p`, `--tls ...`, `-c file.conf`).
   * They make the server run as a local binary (certificate files live on this machine).
   */
  extraArgs?: string[];
  /** Scheme of the returned url (default nats; tls when the server requires TLS). */
  scheme?: "nats" | "tls";
}

/** Starts a real nats-server (JetStream on, temporary store) on a free port. */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServerHandle> {
  // A server with its own arguments (auth, TLS files on this machine) or a chosen binary (another
  // nats-server version) runs locally; the plain test server follows the backend decision.
  if (!options.extraArgs?.length && !process.env.INFERD_NATS_SERVER_BIN && (await containersAvailable()))
    return startNatsContainer(options);
  const binary = requireBinary("nats-server", "INFERD_NATS_SERVER_BIN");
  return retryOnPortClash(() => startNatsBinary(binary, options));
}

async function startNatsBinary(binary: string, options: StartNatsOptions): Promise<NatsServerHandle> {
  const port = await freePort();
  const monitorPort = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "inferd-nats-"));
  const args = ["-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)];
  if (options.jetstream !== false) args.push("-js", "-sd", storeDir);
  args.push(...(options.extraArgs ?? []));

  const server = await startLocalServer({
    name: "nats-server",
    binary,
    args,
    dataDir: storeDir,
    ready: async () => (await fetch(`http://127.0.0.1:${monitorPort}/healthz`)).ok,
  });
  return {
    url: `${options.scheme ?? "nats"}://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    ...server,
  };
}

/** The same server in a container of the local test image (host network), whatever the backend decision. */
export async function startNatsContainer(options: StartNatsOptions): Promise<NatsServerHandle> {
  const { GenericContainer, Wait } = await loadTestcontainers();
  const port = await freePort();
  const monitorPort = await freePort();
  const args = ["nats-server", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)];
  if (options.jetstream !== false) args.push("-js", "-sd", "/tmp/jetstream");
  args.push(...(options.extraArgs ?? []));
  // Host networking: the server listens on loopback like the local binary does.
  const container = await new GenericContainer(TEST_SERVERS_IMAGE)
    .withNetworkMode("host")
    .withCommand(args)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  return {
    url: `${options.scheme ?? "nats"}://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    ...containerLifecycle(container),
  };
}
