import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { canConnect, freePort, type ManagedProcess, startProcess, waitFor } from "@inferd/testkit";

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** host:port of every master. */
  nodes: string[];
  dispose(): Promise<void>;
}

/**
 * A real 3-master Redis Cluster (no replicas) on free local ports, made with
 * `redis-cli --cluster create`. For tests that must prove the key layout works on a cluster.
 */
export async function startRedisCluster(options: { password?: string } = {}): Promise<RedisClusterHandle> {
  const auth = options.password ? ["--requirepass", options.password, "--masterauth", options.password] : [];
  const cliAuth = options.password ? ["-a", options.password, "--no-auth-warning"] : [];
  const dir = mkdtempSync(join(tmpdir(), "inferd-redis-cluster-"));
  const procs: ManagedProcess[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      ports.push(port);
      const nodeDir = join(dir, String(port));
      await run("mkdir", ["-p", nodeDir]);
      procs.push(
        startProcess({
          command: "redis-server",
          args: [
            "--port",
            String(port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(nodeDir, "nodes.conf"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            nodeDir,
            ...auth,
          ],
        }),
      );
    }
    for (const port of ports) {
      await waitFor(() => canConnect("127.0.0.1", port), { timeoutMs: 10_000, message: `redis ${port}` });
    }
    await run("redis-cli", [
      ...cliAuth,
      "--cluster",
      "create",
      ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    await waitFor(
      async () => {
        const { stdout } = await run("redis-cli", [...cliAuth, "-p", String(ports[0]), "cluster", "info"]);
        return stdout.includes("cluster_state:ok");
      },
      { timeoutMs: 15_000, message: "cluster_state:ok" },
    );
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`),
    async dispose() {
      await Promise.all(procs.map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
