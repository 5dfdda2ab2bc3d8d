import type { ReplicaState } from "../../domain/replica.ts";
import { type DriverState, judgeRecord, type ServerRecord } from "../../domain/server-record.ts";
import { adoptedServer } from "./server-process.ts";
import { observeProcess } from "./server-state.ts";

export type NotAdoptedReason = "dead" | "foreign" | "changed" | "unhealthy";

export interface AdoptedRecord {
  readonly record: ServerRecord;
  /** `ready` (answered /health), `starting` (still loading) or `draining` (drained on). */
  readonly state: Extract<ReplicaState, "ready" | "starting" | "draining">;
}

export interface AdoptionOptions {
  /** The command line the driver would run for this record today; undefined when its pool is gone. */
  argvFor(record: ServerRecord): string[] | undefined;
  healthy(record: ServerRecord): Promise<boolean>;
  /** How long a recorded live server that was serving has to answer its health probe. */
  timeoutMs: number;
  pollMs: number;
  killAfterMs: number;
  onAdopted(adopted: AdoptedRecord): void;
  onNotAdopted(record: ServerRecord, reason: NotAdoptedReason): void;
}

/**
 * Sorts the recorded servers of a previous life of the driver, all at once. The same live process
 * with the same command line is adopted: at once if it was still starting (it loads on, with the
 * time a child gets) or draining (the drain goes on), else if it answers /health within the bound.
 * One that was serving and does not answer, or whose pool or command changed, is stopped (SIGTERM,
 * SIGKILL after `killAfterMs`: it may hold GPU memory its replacement needs); dead ones and reused
 * pids are forgotten, never signalled. Resolves with the adopted ones once every record is settled.
 */
export async function adoptRecorded(state: DriverState, opts: AdoptionOptions): Promise<AdoptedRecord[]> {
  // By record, so the adopted keep the recorded order whichever answers first.
  const adopted: (AdoptedRecord | undefined)[] = state.servers.map(() => undefined);
  await Promise.all(
    state.servers.map(async (record, i) => {
      const adopt = (a: AdoptedRecord) => {
        adopted[i] = a;
        opts.onAdopted(a);
      };
      const verdict = judgeRecord(record, observeProcess(record.process.pid), opts.argvFor(record));
      if (verdict === "dead" || verdict === "foreign") {
        opts.onNotAdopted(record, verdict);
        return;
      }
      if (verdict === "probe") {
        if (record.state === "draining") return adopt({ record, state: "draining" });
        if (record.state === "starting")
          return adopt({ record, state: (await opts.healthy(record)) ? "ready" : "starting" });
        if (await answersWithin(record, opts)) return adopt({ record, state: "ready" });
      }
      opts.onNotAdopted(record, verdict === "kill" ? "changed" : "unhealthy");
      await stopByPid(record, opts);
    }),
  );
  return adopted.filter((a) => a !== undefined);
}

async function answersWithin(record: ServerRecord, opts: AdoptionOptions): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await opts.healthy(record)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}

async function stopByPid(record: ServerRecord, opts: AdoptionOptions): Promise<void> {
  const proc = adoptedServer(record.process, opts.pollMs);
  proc.kill("SIGTERM");
  const kill = setTimeout(() => proc.kill("SIGKILL"), opts.killAfterMs);
  await proc.exited;
  clearTimeout(kill);
}
