import type { ChildProcess } from "node:child_process";
import { type ProcessIdentity, sameProcess } from "../../domain/server-record.ts";
import { observeProcess } from "./server-state.ts";

export interface ProcessExit {
  /** Unknown (null) for an adopted process: only its parent learns how it ended. */
  readonly code: number | null;
  readonly signal: string | null;
}

/**
 * A running model server, whether the driver spawned it (a child) or adopted it after a restart
 * (a pid it is not the parent of). The driver stops, drains and restarts both the same way.
 */
export interface ServerProcess {
  readonly pid: number | undefined;
  readonly adopted: boolean;
  kill(signal: NodeJS.Signals): void;
  /** Resolves once the process is gone. */
  readonly exited: Promise<ProcessExit>;
}

export function childServer(child: ChildProcess): ServerProcess {
  return {
    pid: child.pid,
    adopted: false,
    kill: (signal) => void child.kill(signal),
    exited: new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal }))),
  };
}

/**
 * A process adopted by pid. No exit event reaches a non-parent, so its /proc entry is polled:
 * gone, a zombie, or another process under the pid (reused) all mean it exited. Signals go to
 * the pid only while it is still the same process, so a reused pid is never signalled.
 */
export function adoptedServer(identity: ProcessIdentity, pollMs: number): ServerProcess {
  const alive = () => {
    const now = observeProcess(identity.pid);
    return now !== undefined && !now.zombie && sameProcess(identity, now);
  };
  const exited = new Promise<ProcessExit>((resolve) => {
    const timer = setInterval(() => {
      if (alive()) return;
      clearInterval(timer);
      resolve({ code: null, signal: null });
    }, pollMs);
  });
  return {
    pid: identity.pid,
    adopted: true,
    kill(signal) {
      if (!alive()) return;
      try {
        process.kill(identity.pid, signal);
      } catch {
        // Exited in between: the poll reports it.
      }
    },
    exited,
  };
}
