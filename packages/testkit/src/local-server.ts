import { rmSync } from "node:fs";
import { type ManagedProcess, startProcess } from "./process.ts";
import { waitFor } from "./wait-for.ts";

/** A server process that exited before it served (its output is in the message). */
export class ServerExitedError extends Error {}

/**
 * Runs `start` with fresh free ports again when the server exited because a port it was given was
 * taken in the meantime (free ports are only free until another process binds them: parallel tests).
 */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      const clash =
        err instanceof ServerExitedError && /address already in use|EADDRINUSE/i.test(err.message);
      if (!clash || attempt >= attempts) throw err;
    }
  }
}

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
    // An exit ends the wait at once (waitFor treats a thrown error as "not yet", so it is a value here).
    const outcome = await waitFor(
      async () => {
        if (current.child.exitCode !== null || current.child.signalCode !== null) return "exited";
        return (await options.ready()) ? "ready" : null;
      },
      { timeoutMs: 15_000, message: `${options.name} to serve` },
    );
    if (outcome === "exited")
      throw new ServerExitedError(`${options.name} exited while starting: ${current.output()}`);
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
