import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { CpuUse } from "../lib/report/model.ts";

/** Clock ticks per second of /proc (USER_HZ; 100 on every mainstream Linux build). */
const HZ = 100;

interface Snapshot {
  readonly at: number;
  readonly busy: number;
  readonly total: number;
  /** CPU seconds per component (its process and, for the supervisor's children, only that pid). */
  readonly procs: Map<string, number>;
  readonly self: number;
}

function machine(): { busy: number; total: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

/** utime + stime of a process and its reaped children, in seconds; NaN when it cannot be read. */
function procSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after ")" start at field 3 (state); utime=14, stime=15, cutime=16, cstime=17.
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / HZ;
  } catch {
    return Number.NaN;
  }
}

/** Samples machine CPU and the stack's processes at stage boundaries (Linux /proc). */
export class CpuMeter {
  private readonly pids: Record<string, number>;

  constructor(pids: Readonly<Record<string, number | undefined>>) {
    this.pids = {};
    for (const [k, v] of Object.entries(pids)) if (v !== undefined) this.pids[k] = v;
  }

  snapshot(): Snapshot {
    const m = machine();
    const procs = new Map<string, number>();
    for (const [name, pid] of Object.entries(this.pids)) procs.set(name, procSeconds(pid));
    const u = process.cpuUsage();
    return { at: performance.now(), busy: m.busy, total: m.total, procs, self: (u.user + u.system) / 1e6 };
  }

  /** Use between two snapshots: machine busy share and cores used per component. */
  static between(a: Snapshot, b: Snapshot): CpuUse {
    const wall = (b.at - a.at) / 1000;
    const seconds: Record<string, number> = { "load generator": b.self - a.self };
    for (const [name, secs] of b.procs) {
      const before = a.procs.get(name);
      if (before !== undefined && Number.isFinite(secs) && Number.isFinite(before))
        seconds[name] = secs - before;
    }
    const components: Record<string, number> = {};
    for (const [name, secs] of Object.entries(seconds)) components[name] = secs / wall;
    return {
      machineBusy: b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : Number.NaN,
      cores: availableParallelism(),
      components,
      componentSeconds: seconds,
    };
  }
}
