/**
 * Where a Redis lookup's time goes, per lookup: the bench's own CPU, time runnable but waiting for a
 * core (the main thread's and redis-server's, from /proc/<pid>/task/<tid>/schedstat), redis-server's
 * execution time of the command (SLOWLOG at threshold 0), GC pauses overlapping the lookup
 * (PerformanceObserver 'gc'), the time to the reply's first byte and the bytes each way. The slowest
 * 1% are then set against the median lookup, so a tail is split into its parts with figures.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import type { Redis } from "ioredis";

export interface TailSample {
  wallMs: number;
  /** CPU of the whole bench process (all threads) during the lookup. */
  cpuMs: number;
  /** Main thread runnable but not running. */
  mainWaitMs: number;
  /** redis-server's main thread: runnable but not running, and running. */
  redisWaitMs: number;
  redisRunMs: number;
  /** redis-server's execution time of the lookup's command (SLOWLOG), NaN when not matched. */
  serverExecMs: number;
  gcMs: number;
  /** From the call to the reply's first byte on the socket. */
  firstByteMs: number;
  bytesOut: number;
  bytesIn: number;
}

/** [run ns, wait ns] of one thread; NaN where /proc is not readable (not Linux). */
function schedstat(pid: number, tid = pid): [number, number] {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ");
    return [Number(run), Number(wait)];
  } catch {
    return [Number.NaN, Number.NaN];
  }
}

const pct = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/** perf_hooks.constants.NODE_PERFORMANCE_GC_*: 1 minor (scavenge), 2 major, 4 incremental, 8 weak callbacks. */
const GC_KINDS: Record<number, string> = { 1: "minor", 2: "major", 4: "incremental", 8: "weakcb" };

function gcByKind(gcs: readonly { start: number; end: number; kind: number }[]) {
  const out: Record<string, { count: number; ms: number }> = {};
  for (const g of gcs) {
    const k = GC_KINDS[g.kind] ?? String(g.kind);
    const e = out[k] ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += g.end - g.start;
    out[k] = e;
  }
  return out;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * Runs `n` lookups through `lookup` on the connection `client` (whose socket is watched), with
 * redis-server `redisPid` known and `admin` a second connection for SLOWLOG/INFO.
 */
export async function lookupTail(opts: {
  n: number;
  lookup: () => Promise<unknown>;
  client: Redis;
  admin: Redis;
  redisPid: number;
}): Promise<Record<string, unknown>> {
  const { n, lookup, client, admin, redisPid } = opts;
  const socket = client.stream;
  let firstByte = 0;
  socket.on("data", () => {
    if (firstByte === 0) firstByte = performance.now();
  });
  const gcs: { start: number; end: number; kind: number }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      gcs.push({
        start: e.startTime,
        end: e.startTime + e.duration,
        kind: (e as { detail?: { kind?: number } }).detail?.kind ?? 0,
      });
  });
  obs.observe({ entryTypes: ["gc"] });
  await admin.config("SET", "slowlog-log-slower-than", "0");
  await admin.config("SET", "slowlog-max-len", String(4 * n + 1000));
  await admin.slowlog("RESET");
  const statsBefore = await admin.info("commandstats");
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const samples: (TailSample & { t0: number; t1: number })[] = [];
  for (let i = 0; i < n; i++) {
    const [, mainWait0] = schedstat(process.pid);
    const [rRun0, rWait0] = schedstat(redisPid);
    const out0 = socket.bytesWritten;
    const in0 = socket.bytesRead;
    const cpu0 = process.cpuUsage();
    firstByte = 0;
    const t0 = performance.now();
    await lookup();
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const [, mainWait1] = schedstat(process.pid);
    const [rRun1, rWait1] = schedstat(redisPid);
    samples.push({
      t0,
      t1,
      wallMs: t1 - t0,
      cpuMs: (cpu.user + cpu.system) / 1000,
      mainWaitMs: (mainWait1 - mainWait0) / 1e6,
      redisWaitMs: (rWait1 - rWait0) / 1e6,
      redisRunMs: (rRun1 - rRun0) / 1e6,
      serverExecMs: Number.NaN,
      gcMs: 0,
      firstByteMs: firstByte === 0 ? Number.NaN : firstByte - t0,
      bytesOut: socket.bytesWritten - out0,
      bytesIn: socket.bytesRead - in0,
    });
  }
  loop.disable();
  // Let the observer deliver the last entries (they are queued, not synchronous).
  await new Promise((r) => setImmediate(r));
  obs.disconnect();
  const statsAfter = await admin.info("commandstats");
  // Newest first; the lookup's own command is the one with the most arguments of its client.
  const log = (await admin.call("SLOWLOG", "GET", String(4 * n + 1000))) as [
    number,
    number,
    number,
    string[],
    string,
    string,
  ][];
  await admin.config("SET", "slowlog-log-slower-than", "10000");
  const mine = log
    .filter((e) => e[5] === "bench-lookup" && /^(mget|evalsha|eval|fcall|fcall_ro)$/i.test(e[3][0] ?? ""))
    .sort((a, b) => a[0] - b[0]);
  const matched = mine.length === n;
  for (const [i, s] of samples.entries()) {
    if (matched) s.serverExecMs = mine[i]![2] / 1000;
    for (const g of gcs) s.gcMs += Math.max(0, Math.min(g.end, s.t1) - Math.max(g.start, s.t0));
  }
  const byWall = [...samples].sort((a, b) => a.wallMs - b.wallMs);
  const tail = byWall.slice(Math.floor(0.99 * n));
  const middle = byWall.slice(Math.floor(0.45 * n), Math.ceil(0.55 * n));
  const parts = (group: TailSample[]) => ({
    lookups: group.length,
    wallMs: mean(group.map((s) => s.wallMs)),
    benchCpuMs: mean(group.map((s) => s.cpuMs)),
    mainThreadWaitingForCoreMs: mean(group.map((s) => s.mainWaitMs)),
    redisExecMs: mean(group.map((s) => s.serverExecMs)),
    redisRunMs: mean(group.map((s) => s.redisRunMs)),
    redisWaitingForCoreMs: mean(group.map((s) => s.redisWaitMs)),
    gcMs: mean(group.map((s) => s.gcMs)),
    withGc: group.filter((s) => s.gcMs > 0).length,
    firstByteMs: mean(group.map((s) => s.firstByteMs)),
  });
  const sortedOf = (f: (s: TailSample) => number) => samples.map(f).sort((a, b) => a - b);
  const exec = sortedOf((s) => s.serverExecMs);
  const usecPerCall = (info: string, cmd: string) => {
    const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+),usec=(\\d+)`).exec(info);
    return m ? { calls: Number(m[1]), usec: Number(m[2]) } : { calls: 0, usec: 0 };
  };
  const commandstats: Record<string, number> = {};
  for (const cmd of ["mget", "evalsha", "get"]) {
    const a = usecPerCall(statsBefore, cmd);
    const b = usecPerCall(statsAfter, cmd);
    if (b.calls > a.calls) commandstats[`${cmd}UsecPerCall`] = (b.usec - a.usec) / (b.calls - a.calls);
  }
  return {
    lookups: n,
    wallP50Ms: pct(
      byWall.map((s) => s.wallMs),
      0.5,
    ),
    wallP99Ms: pct(
      byWall.map((s) => s.wallMs),
      0.99,
    ),
    benchCpuP50Ms: pct(
      sortedOf((s) => s.cpuMs),
      0.5,
    ),
    benchCpuP99Ms: pct(
      sortedOf((s) => s.cpuMs),
      0.99,
    ),
    redisExecP50Ms: matched ? pct(exec, 0.5) : "unmatched",
    redisExecP99Ms: matched ? pct(exec, 0.99) : "unmatched",
    commandstats,
    bytesOutPerLookup: mean(samples.map((s) => s.bytesOut)),
    bytesInPerLookup: mean(samples.map((s) => s.bytesIn)),
    gcPauses: gcs.length,
    gcMsTotal: gcs.reduce((a, g) => a + g.end - g.start, 0),
    gcMsByKind: gcByKind(gcs),
    eventLoopDelayP99Ms: loop.percentile(99) / 1e6,
    median10pct: parts(middle),
    slowest1pct: parts(tail),
  };
}
