import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@inferd/service-kit/free-port";
import { requireBinary } from "./binaries.ts";
import { type ManagedProcess, startProcess } from "./process.ts";
import { waitFor } from "./wait-for.ts";

export interface NatsClusterNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly monitorPort: number;
}

export interface NatsClusterHandle {
  readonly nodes: readonly NatsClusterNode[];
  /** Every client URL, comma-separated (what services take as nats_url). */
  readonly urls: string;
  /** Process id of node i while it runs. */
  pid(i: number): number | undefined;
  /** SIGKILL node i (its JetStream store stays on disk). */
  kill(i: number): Promise<void>;
  /** Starts node i again on the same ports and store; resolves when it is healthy. */
  start(i: number): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A JetStream cluster of `size` real nats-servers on loopback (routes between all of them), each
 * with its own store. Resolves once every node reports JetStream healthy, i.e. the meta group
 * has a leader, so R3 streams can be created at once.
 */
export async function startNatsCluster(
  options: { size?: number; name?: string } = {},
): Promise<NatsClusterHandle> {
  const binary = requireBinary("nats-server", "INFERD_NATS_SERVER_BIN");
  const size = options.size ?? 3;
  const dir = mkdtempSync(join(tmpdir(), "inferd-nats-cluster-"));
  const plan: Array<NatsClusterNode & { clusterPort: number }> = [];
  for (let i = 0; i < size; i++) {
    const port = await freePort();
    plan.push({
      name: `n${i}`,
      port,
      url: `nats://127.0.0.1:${port}`,
      monitorPort: await freePort(),
      clusterPort: await freePort(),
    });
  }
  const routes = plan.map((n) => `nats://127.0.0.1:${n.clusterPort}`).join(",");
  const procs: Array<ManagedProcess | undefined> = plan.map(() => undefined);
  const healthy = async (i: number) => {
    try {
      return (await fetch(`http://127.0.0.1:${plan[i]!.monitorPort}/healthz`)).ok;
    } catch {
      return false;
    }
  };
  const spawnNode = (i: number) => {
    const n = plan[i]!;
    procs[i] = startProcess({
      command: binary,
      args: [
        "-a",
        "127.0.0.1",
        "-p",
        String(n.port),
        "-m",
        String(n.monitorPort),
        "-n",
        n.name,
        "-js",
        "-sd",
        join(dir, n.name),
        "--cluster_name",
        options.name ?? "inferd-test",
        "--cluster",
        `nats://127.0.0.1:${n.clusterPort}`,
        "--routes",
        routes,
      ],
    });
  };
  const waitHealthy = async (i: number) => {
    const proc = procs[i]!;
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null)
          throw new Error(`nats-server ${plan[i]!.name} exited: ${proc.output()}`);
        return healthy(i);
      },
      { timeoutMs: 30_000, message: `nats-server ${plan[i]!.name} to serve` },
    );
  };
  for (let i = 0; i < size; i++) spawnNode(i);
  // Every node answers /healthz only once JetStream (meta leader elected) is usable.
  await waitFor(
    async () => {
      for (let i = 0; i < size; i++) {
        if (procs[i]!.child.exitCode !== null)
          throw new Error(`nats-server n${i} exited: ${procs[i]!.output()}`);
        if (!(await healthy(i))) return false;
      }
      return true;
    },
    { timeoutMs: 30_000, message: "the NATS cluster to elect a JetStream meta leader" },
  );
  return {
    nodes: plan.map(({ name, port, url, monitorPort }) => ({ name, port, url, monitorPort })),
    urls: plan.map((n) => n.url).join(","),
    pid: (i) => procs[i]?.child.pid,
    async kill(i) {
      await procs[i]?.kill();
    },
    async start(i) {
      spawnNode(i);
      await waitHealthy(i);
    },
    async dispose() {
      await Promise.all(procs.map((p) => p?.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
