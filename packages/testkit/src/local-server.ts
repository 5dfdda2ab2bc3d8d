import { rmSync } from "node:fs";
import { type ManagedProcess, startProcess } from "./process.ts";
import { waitFor } from "./wait-for.ts";

export interface LocalServer {
  stop(): Promise<void>;
  /** Stops, then starts the same command again (same port, same data directory). */
  restart(): Promise<void>;
  /** Stops and deletes the data directory. */
  dispose(): Promise<void>;
}

/**
 * Runs a server binary as a child process and waits until `ready()` says it serves; a server
 * that exits while starting fails with its output. Shared by the nats-server and redis-server kits.
 */
export async function startLocalServer(options: {
  name: string;
  binary: string;
  args: string[];
  dataDir: string;
  ready: () => Promise<boolean>;
}): Promise<LocalServer> {
  let proc: ManagedProcess | undefined;
  const start = async () => {
    proc = startProcess({ command: options.binary, args: options.args });
    const current = proc;
    await waitFor(
      async () => {
        if (current.child.exitCode !== null) throw new Error(`${options.name} exited: ${current.output()}`);
        return options.ready();
      },
      { timeoutMs: 15_000, message: `${options.name} to serve` },
    );
  };
  await start();
  const stop = async () => {
    await proc?.stop();
  };
  return {
    stop,
    async restart() {
      await stop();
      await start();
    },
    async dispose() {
      await stop();
      rmSync(options.dataDir, { recursive: true, force: true });
    },
  };
}

/** The same stop/restart/dispose life cycle for a Testcontainers container. */
export function containerLifecycle(container: {
  stop(options?: { remove?: boolean }): Promise<unknown>;
  restart(): Promise<unknown>;
}): LocalServer {
  return {
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
