import type { ReplicaState } from "./replica.ts";

/**
 * What the local driver remembers of each model server it runs, so a restarted deployer (after
 * kill -9, an OOM kill, a crash) can adopt its running servers instead of orphaning them.
 * Pure: reading /proc and the state file is the adapter's (drivers/local/server-state.ts).
 */

/** A process as the kernel knows it: a reused pid has another start time, a reboot another boot id. */
export interface ProcessIdentity {
  readonly pid: number;
  /** /proc/<pid>/stat field 22: clock ticks after boot when the process started. */
  readonly startTime: string;
  /** /proc/sys/kernel/random/boot_id. */
  readonly bootId: string;
}

/** What /proc says of a pid now: its identity and whether it is a zombie (exited, not reaped). */
export interface ObservedProcess extends ProcessIdentity {
  readonly zombie: boolean;
}

export interface ServerRecord {
  readonly pool: string;
  readonly pod: string;
  readonly process: ProcessIdentity;
  readonly port: number;
  readonly kvEventsPort: number;
  readonly kvReplayPort: number;
  /** The expanded command line it was started with (a changed template is not adopted). */
  readonly argv: readonly string[];
  /** Wall-clock ms when it was started. */
  readonly spawnedAt: number;
  /**
   * Its state when recorded: a `starting` one is adopted starting (still loading: it gets the time
   * a child would), a `draining` one is drained on, a `ready` / `unhealthy` one must answer.
   */
  readonly state: ReplicaState;
}

export interface DriverState {
  /** The deployer that owns these servers (a second live deployer on the same directory is refused). */
  readonly owner: ProcessIdentity | undefined;
  readonly servers: readonly ServerRecord[];
  /** Last pod number used per pool, so a new server never takes a recorded pod's name. */
  readonly seq: Readonly<Record<string, number>>;
  /** Last replica count asked of each pool, so a restart neither drains nor adds servers. */
  readonly desired: Readonly<Record<string, number>>;
}

export const EMPTY_STATE: DriverState = { owner: undefined, servers: [], seq: {}, desired: {} };

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so fields are counted from the last ")".
 */
export function parseProcStat(text: string): { state: string; startTime: string } | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // Fields 3.. after the name: state is field 3, starttime field 22.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const state = rest[0];
  const startTime = rest[22 - 3];
  if (!state || !startTime || !/^\d+$/.test(startTime)) return undefined;
  return { state, startTime };
}

export function sameProcess(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.pid === b.pid && a.startTime === b.startTime && a.bootId === b.bootId;
}

/**
 * What to do with a recorded server at start:
 * - `probe`: it is the same live process and would be started the same way today; adopt it if
 *   it answers its health probe in time.
 * - `kill`: the same live process, but its pool is gone or its command line changed: it is ours
 *   and nothing will manage it, so it is stopped.
 * - `dead`: nothing runs under that pid (or a zombie): forgotten.
 * - `foreign`: the pid now belongs to another process (reused pid, or a reboot): never touched.
 */
export type RecordVerdict = "probe" | "kill" | "dead" | "foreign";

export function judgeRecord(
  record: ServerRecord,
  now: ObservedProcess | undefined,
  argvToday: readonly string[] | undefined,
): RecordVerdict {
  if (!now || now.zombie) return "dead";
  if (!sameProcess(record.process, now)) return "foreign";
  if (!argvToday || !sameArgv(record.argv, argvToday)) return "kill";
  return "probe";
}

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The number of a pod named `<pool>-<n>`, or 0. */
export function podNumber(pool: string, pod: string): number {
  if (!pod.startsWith(`${pool}-`)) return 0;
  const n = Number(pod.slice(pool.length + 1));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/**
 * Reads a state file's JSON. A file that is not a state (corrupt, another version) throws with
 * the reason: the deployer refuses to start rather than forget servers it may still be running.
 */
export function parseDriverState(text: string): DriverState {
  const raw = JSON.parse(text) as unknown;
  if (!isObject(raw) || raw.version !== 1) throw new Error("not a version 1 local driver state");
  const owner = raw.owner === undefined || raw.owner === null ? undefined : identity(raw.owner, "owner");
  if (!Array.isArray(raw.servers)) throw new Error("servers: not an array");
  const servers = raw.servers.map((s: unknown, i: number) => serverRecord(s, `servers[${i}]`));
  return {
    owner,
    servers,
    seq: counts(raw.seq, "seq"),
    desired: counts(raw.desired, "desired"),
  };
}

export function serializeDriverState(state: DriverState): string {
  return `${JSON.stringify({ version: 1, ...state }, null, 2)}\n`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function identity(v: unknown, where: string): ProcessIdentity {
  if (!isObject(v)) throw new Error(`${where}: not an object`);
  return {
    pid: int(v.pid, `${where}.pid`),
    startTime: text(v.startTime, `${where}.startTime`),
    bootId: text(v.bootId, `${where}.bootId`),
  };
}

function serverRecord(v: unknown, where: string): ServerRecord {
  if (!isObject(v)) throw new Error(`${where}: not an object`);
  if (!Array.isArray(v.argv) || !v.argv.every((a) => typeof a === "string"))
    throw new Error(`${where}.argv: not a list of strings`);
  return {
    pool: text(v.pool, `${where}.pool`),
    pod: text(v.pod, `${where}.pod`),
    process: identity(v.process, `${where}.process`),
    port: int(v.port, `${where}.port`),
    kvEventsPort: int(v.kvEventsPort, `${where}.kvEventsPort`),
    kvReplayPort: int(v.kvReplayPort, `${where}.kvReplayPort`),
    argv: v.argv as string[],
    spawnedAt: int(v.spawnedAt, `${where}.spawnedAt`),
    state: replicaState(v.state, `${where}.state`),
  };
}

const STATES: readonly ReplicaState[] = ["starting", "ready", "draining", "unhealthy"];

function replicaState(v: unknown, where: string): ReplicaState {
  if (!STATES.includes(v as ReplicaState)) throw new Error(`${where}: not one of ${STATES.join(", ")}`);
  return v as ReplicaState;
}

function counts(v: unknown, where: string): Record<string, number> {
  if (v === undefined) return {};
  if (!isObject(v)) throw new Error(`${where}: not an object`);
  return Object.fromEntries(Object.entries(v).map(([k, n]) => [k, int(n, `${where}.${k}`)]));
}

function int(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw new Error(`${where}: not a whole number`);
  return v;
}

function text(v: unknown, where: string): string {
  if (typeof v !== "string" || v === "") throw new Error(`${where}: not a non-empty string`);
  return v;
}
