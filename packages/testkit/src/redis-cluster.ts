import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@inferd/service-kit/free-port";
import { requireBinary } from "./binaries.ts";
import { type ManagedProcess, startProcess } from "./process.ts";
import { canConnect } from "./tcp.ts";
import { waitFor } from "./wait-for.ts";

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** Client ports of every node (primaries and replicas). */
  readonly ports: readonly number[];
  /** `127.0.0.1:<port>` of every node: the seeds services take (redis_cluster_nodes). */
  readonly seeds: readonly string[];
  /** Ports of the nodes that are primaries right now (asked of a live node). */
  primaries(): Promise<number[]>;
  /** Port of the primary serving `key`'s slot right now. */
  primaryFor(key: string): Promise<number>;
  /** SIGKILL the node on `port` (no persistence: its data is gone); resolves once the cluster flags it failed. */
  kill(port: number): Promise<void>;
  /** Resolves when every slot is served again (cluster_state:ok on every live node). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A Redis Cluster of real redis-servers on loopback: `primaries` primaries with `replicas` replicas
 * each, made by `redis-cli --cluster create`. No persistence; a killed primary's replica is
 * promoted by the cluster itself (cluster-node-timeout `nodeTimeoutMs`).
 */
export async function startRedisCluster(
  options: { primaries?: number; replicas?: number; nodeTimeoutMs?: number; password?: string } = {},
): Promise<RedisClusterHandle> {
  const server = requireBinary("redis-server", "INFERD_REDIS_SERVER_BIN");
  const redisCli = requireBinary("redis-cli", "INFERD_REDIS_CLI_BIN");
  // With a password every node requires it (and primaries hand it to their replicas).
  const serverAuth = options.password
    ? ["--requirepass", options.password, "--masterauth", options.password]
    : [];
  const cliAuth = options.password ? ["-a", options.password, "--no-auth-warning"] : [];
  const cli = (args: string[]) => run(redisCli, [...cliAuth, ...args]);
  const count = (options.primaries ?? 3) * (1 + (options.replicas ?? 1));
  const dir = mkdtempSync(join(tmpdir(), "inferd-redis-cluster-"));
  const ports: number[] = [];
  const procs = new Map<number, ManagedProcess>();
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const busPort = await freePort();
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir);
    ports.push(port);
    procs.set(
      port,
      startProcess({
        command: server,
        args: [
          "--port",
          String(port),
          "--cluster-port",
          String(busPort),
          "--bind",
          "127.0.0.1",
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(nodeDir, "nodes.conf"),
          "--cluster-node-timeout",
          String(options.nodeTimeoutMs ?? 1_000),
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          nodeDir,
          ...serverAuth,
        ],
      }),
    );
  }
  for (const port of ports) {
    const proc = procs.get(port)!;
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`redis-server ${port} exited: ${proc.output()}`);
        return canConnect("127.0.0.1", port);
      },
      { timeoutMs: 15_000, message: `redis-server ${port} to serve` },
    );
  }
  await cli([
    "--cluster",
    "create",
    ...ports.map((p) => `127.0.0.1:${p}`),
    "--cluster-replicas",
    String(options.replicas ?? 1),
    "--cluster-yes",
  ]);
  const live = () =>
    ports.filter((p) => procs.get(p)!.child.exitCode === null && procs.get(p)!.child.signalCode === null);
  const clusterOk = async (port: number) => {
    try {
      const { stdout } = await cli(["-p", String(port), "cluster", "info"]);
      return stdout.includes("cluster_state:ok");
    } catch {
      return false;
    }
  };
  const handle: RedisClusterHandle = {
    ports,
    seeds: ports.map((p) => `127.0.0.1:${p}`),
    async primaries() {
      const { stdout } = await cli(["-p", String(live()[0]), "cluster", "nodes"]);
      return stdout
        .split("\n")
        .filter((l) => /\bmaster\b/.test(l) && !/\bfail\b/.test(l))
        .map((l) => Number(/:(\d+)@/.exec(l)?.[1]));
    },
    async primaryFor(key) {
      const port = String(live()[0]);
      const slot = Number((await cli(["-p", port, "cluster", "keyslot", key])).stdout.trim());
      const { stdout } = await cli(["-p", port, "cluster", "nodes"]);
      for (const line of stdout.split("\n")) {
        const f = line.split(" ");
        if (!/\bmaster\b/.test(f[2] ?? "") || /\bfail\b/.test(f[2] ?? "")) continue;
        for (const range of f.slice(8)) {
          const [lo, hi] = range.split("-").map(Number);
          if (slot >= lo! && slot <= (hi ?? lo)!) return Number(/:(\d+)@/.exec(f[1]!)?.[1]);
        }
      }
      throw new Error(`no primary serves slot ${slot}`);
    },
    async kill(port) {
      await procs.get(port)?.kill();
      // Failure detection takes cluster-node-timeout: until a live node flags it "fail", the
      // cluster still reports ok and waitHealthy() would pass too early.
      await waitFor(
        async () => {
          const { stdout } = await cli(["-p", String(live()[0]), "cluster", "nodes"]);
          return stdout.split("\n").some((l) => l.includes(`:${port}@`) && /\bfail\b/.test(l));
        },
        { timeoutMs: 30_000, message: `the Redis Cluster to flag ${port} as failed` },
      );
    },
    async waitHealthy(timeoutMs = 30_000) {
      await waitFor(
        async () => {
          for (const p of live()) if (!(await clusterOk(p))) return false;
          return true;
        },
        { timeoutMs, message: "every Redis Cluster slot to be served" },
      );
    },
    async dispose() {
      await Promise.all([...procs.values()].map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await handle.waitHealthy();
  return handle;
}
