import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireBinary } from "./binaries.ts";
import { containersAvailable, TEST_SERVERS_IMAGE } from "./containers.ts";
import { freePort } from "./free-port.ts";
import { containerLifecycle, startLocalServer } from "./local-server.ts";

export interface NatsServerHandle {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
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
}

/** Starts a real nats-server (JetStream on, temporary store) on a free port. */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServerHandle> {
  if (await containersAvailable()) return startNatsContainer(options);
  const binary = requireBinary("nats-server", "INFERD_NATS_SERVER_BIN");
  const port = await freePort();
  const monitorPort = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "inferd-nats-"));
  const args = ["-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)];
  if (options.jetstream !== false) args.push("-js", "-sd", storeDir);

  const server = await startLocalServer({
    name: "nats-server",
    binary,
    args,
    dataDir: storeDir,
    ready: async () => (await fetch(`http://127.0.0.1:${monitorPort}/healthz`)).ok,
  });
  return { url: `nats://127.0.0.1:${port}`, port, ...server };
}

/** The same server in a container of the local test image (host network), whatever the backend decision. */
export async function startNatsContainer(options: StartNatsOptions): Promise<NatsServerHandle> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const port = await freePort();
  const monitorPort = await freePort();
  const args = ["nats-server", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)];
  if (options.jetstream !== false) args.push("-js", "-sd", "/tmp/jetstream");
  // Host networking: the server listens on loopback like the local binary does.
  const container = await new GenericContainer(TEST_SERVERS_IMAGE)
    .withNetworkMode("host")
    .withCommand(args)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  return { url: `nats://127.0.0.1:${port}`, port, ...containerLifecycle(container) };
}
