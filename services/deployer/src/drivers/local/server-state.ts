import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DriverState,
  EMPTY_STATE,
  type ObservedProcess,
  type ProcessIdentity,
  parseDriverState,
  parseProcStat,
  serializeDriverState,
} from "../../domain/server-record.ts";

/** The local driver's record of its servers: `<dir>/local-servers.json`, replaced atomically. */
export class StateFile {
  readonly path: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.path = join(dir, "local-servers.json");
  }

  /** The recorded state; an absent file is an empty one, a corrupt one throws (see parseDriverState). */
  read(): DriverState {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_STATE;
      throw err;
    }
    try {
      return parseDriverState(text);
    } catch (err) {
      throw new Error(`${this.path}: ${(err as Error).message} (move it away to start without adopting)`);
    }
  }

  /** Temp file + rename: a reader (or a deployer killed mid-write) sees the old or the new file, whole. */
  write(state: DriverState): void {
    mkdirSync(this.#dir, { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, serializeDriverState(state));
    renameSync(tmp, this.path);
  }
}

let cachedBootId: string | undefined;

function bootId(): string | undefined {
  try {
    cachedBootId ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return cachedBootId;
  } catch {
    return undefined;
  }
}

/** What /proc says of `pid` now; undefined when no such process (or no /proc: not Linux). */
export function observeProcess(pid: number): ObservedProcess | undefined {
  const boot = bootId();
  if (!boot || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const parsed = parseProcStat(stat);
  if (!parsed) return undefined;
  return {
    pid,
    startTime: parsed.startTime,
    bootId: boot,
    zombie: parsed.state === "Z" || parsed.state === "X",
  };
}

/** This process's identity, or undefined where /proc is missing (adoption needs Linux). */
export function selfIdentity(): ProcessIdentity | undefined {
  const me = observeProcess(process.pid);
  return me ? { pid: me.pid, startTime: me.startTime, bootId: me.bootId } : undefined;
}
