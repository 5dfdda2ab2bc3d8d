import { type DriverState, judgeRecord, type ServerRecord } from "../../domain/server-record.ts";
import { adoptedServer } from "./server-process.ts";
import { observeProcess } from "./server-state.ts";

export type NotAdoptedReason = "dead" | "foreign" | "changed" | "unhealthy";

export interface AdoptionOptions {
  /** The command line the driver would run for this record today; undefined when its pool is gone. */
  argvFor(record: ServerRecord): string[] | undefined;
  healthy(record: ServerRecord): Promise<boolean>;
  /** How long a recorded live server has to answer its health probe. */
  timeoutMs: number;
  pollMs: number;
  killAfterMs: number;
  onAdopted(record: ServerRecord): void;
  onNotAdopted(record: ServerRecord, reason: NotAdoptedReason): void;
}

/**
 * Sorts the recorded servers of a previous life of the driver, all at once: the same live process
 * with the same command line that answers /health within the bound is adopted; one that does not
 * answer, or whose pool or command changed, is stopped (SIGTERM, SIGKILL after `killAfterMs`: it may
 * hold GPU memory its replacement needs); dead ones and reused pids are forgotten, never signalled.
 * Resolves with the adopted records once every record is settled.
 */
export async function adoptRecorded(state: DriverState, opts: AdoptionOptions): Promise<ServerRecord[]> {
  const adopted: ServerRecord[] = [];
  await Promise.all(
    state.servers.map(async (record) => {
      const verdict = judgeRecord(record, observeProcess(record.process.pid), opts.argvFor(record));
      if (verdict === "dead" || verdict === "foreign") {
        opts.onNotAdopted(record, verdict);
        return;
      }
      if (verdict === "probe" && (await answersWithin(record, opts))) {
        adopted.push(record);
        opts.onAdopted(record);
        return;
      }
      opts.onNotAdopted(record, verdict === "kill" ? "changed" : "unhealthy");
      await stopByPid(record, opts);
    }),
  );
  return adopted;
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
