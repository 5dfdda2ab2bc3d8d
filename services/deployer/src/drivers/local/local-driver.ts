import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { freePort } from "@inferd/service-kit/free-port";
import { restartDelayMs } from "../../domain/backoff.ts";
import { clampReplicas, type PoolSpec } from "../../domain/pools.ts";
import type { Replica, ReplicaState } from "../../domain/replica.ts";
import { pickForRemoval } from "../../domain/scale-down.ts";
import {
  EMPTY_STATE,
  type ProcessIdentity,
  podNumber,
  type ServerRecord,
  sameProcess,
} from "../../domain/server-record.ts";
import { ChangeEmitter, type PoolDriver } from "../driver.ts";
import { type AdoptedRecord, adoptRecorded, type NotAdoptedReason } from "./adoption.ts";
import { DEFAULT_KV_EVENTS_TOPIC, expandCommand, kvEventsConfig } from "./command-template.ts";
import { probeDue } from "./probe-schedule.ts";
import { healthy, inFlight } from "./probes.ts";
import { adoptedServer, childServer, type ServerProcess } from "./server-process.ts";
import { observeProcess, StateFile, selfIdentity } from "./server-state.ts";

export interface LocalDriverOptions {
  pools: readonly PoolSpec[];
  /** argv template (see command-template.ts); the pool's `args` are appended. */
  command: readonly string[];
  /** The topic of the servers' KV events, in `{kvEventsConfig}` (default DEFAULT_KV_EVENTS_TOPIC). */
  kvEventsTopic?: string;
  env?: NodeJS.ProcessEnv;
  /** Time between /health probes of a starting server, or of a ready one that failed a probe. */
  healthIntervalMs?: number;
  /**
   * Time between /health probes of a ready server that passed its last one. Its exit is seen at
   * once without a probe; probes only find a live server that stopped answering, so a ready one
   * need not be asked ten times a second (each probe is a request the server answers).
   */
  healthReadyIntervalMs?: number;
  /** A ready server failing this many probes in a row is marked unhealthy (an exit is at once). */
  unhealthyAfter?: number;
  /** Time after marking a server draining before it is checked for in-flight requests, so
   *  routers have seen the inventory change. */
  drainSettleMs?: number;
  /** Longest wait for in-flight requests to finish before SIGTERM. */
  drainGraceMs?: number;
  /** SIGKILL this long after SIGTERM. */
  killAfterMs?: number;
  restartBaseMs?: number;
  restartMaxMs?: number;
  blockSize?: number;
  /**
   * Directory of the record of running servers (`local-servers.json`), read at start to adopt the
   * servers of a previous life (after kill -9); undefined: nothing recorded, nothing adopted.
   */
  stateDir?: string;
  /** How long a recorded live server has to answer /health at start before it is replaced. */
  adoptTimeoutMs?: number;
  /** Each line a server prints (for prefixed logs; adopted servers' output is not re-attached). */
  onOutput?: (pod: string, line: string) => void;
  onEvent?: (event: LocalDriverEvent) => void;
}

export type LocalDriverEvent =
  | { type: "spawned"; pod: string; pid: number | undefined }
  | { type: "ready"; pod: string; afterMs: number }
  | { type: "exited"; pod: string; code: number | null; signal: string | null; expected: boolean }
  | { type: "restart"; pod: string; inMs: number }
  | { type: "draining"; pod: string }
  | { type: "removed"; pod: string }
  | { type: "adopted"; pod: string; pid: number; state: ReplicaState }
  | { type: "not-adopted"; pod: string; pid: number; reason: NotAdoptedReason }
  | { type: "state-error"; message: string };

interface Server {
  readonly pod: string;
  readonly pool: PoolSpec;
  readonly port: number;
  readonly kvEventsPort: number;
  readonly kvReplayPort: number;
  state: ReplicaState;
  startedAt: number;
  spawnedAt: number;
  /** The running process, spawned or adopted; undefined between a crash and its restart. */
  proc: ServerProcess | undefined;
  /** Who it is in /proc (what the state file records); undefined where /proc is missing. */
  identity: ProcessIdentity | undefined;
  argv: string[];
  crashes: number;
  failedProbes: number;
  /** When the last /health probe of this server started (ms since epoch; 0 = never). */
  probedAt: number;
  stopping: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  exited: Promise<void>;
}

/** The run-time fields of a server not yet watched: no process, no crash, no restart pending. */
function notRunning(): Pick<
  Server,
  "proc" | "crashes" | "failedProbes" | "probedAt" | "stopping" | "restartTimer" | "exited"
> {
  return {
    proc: undefined,
    crashes: 0,
    failedProbes: 0,
    probedAt: 0,
    stopping: false,
    restartTimer: undefined,
    exited: Promise.resolve(),
  };
}

/** Model servers as child processes of the deployer: model-sim by default, or any vLLM command line. */
export class LocalDriver implements PoolDriver {
  readonly kind = "local";
  readonly #opts: Required<Omit<LocalDriverOptions, "onOutput" | "onEvent" | "env" | "stateDir">> &
    Pick<LocalDriverOptions, "onOutput" | "onEvent" | "env">;
  readonly #file: StateFile | undefined;
  #owner: ProcessIdentity | undefined;
  readonly #pools = new Map<string, PoolSpec>();
  readonly #desired = new Map<string, number>();
  readonly #servers = new Map<string, Server>();
  readonly #seq = new Map<string, number>();
  readonly #changes = new ChangeEmitter();
  #probeTimer: NodeJS.Timeout | undefined;
  #probing = false;
  #stopped = false;
  // Scale calls of one pool run one after another, so two decisions never race on the same servers.
  #queue: Promise<void> = Promise.resolve();

  constructor(options: LocalDriverOptions) {
    this.#opts = {
      healthIntervalMs: 100,
      healthReadyIntervalMs: 1_000,
      unhealthyAfter: 2,
      drainSettleMs: 500,
      drainGraceMs: 30_000,
      killAfterMs: 5_000,
      restartBaseMs: 500,
      restartMaxMs: 30_000,
      blockSize: 16,
      adoptTimeoutMs: 10_000,
      kvEventsTopic: DEFAULT_KV_EVENTS_TOPIC,
      ...options,
    };
    this.#file = options.stateDir ? new StateFile(options.stateDir) : undefined;
    for (const p of options.pools) this.#pools.set(p.name, p);
  }

  async start(): Promise<void> {
    await this.#adoptRecorded();
    this.#probeTimer = setInterval(() => void this.#probeAll(), this.#opts.healthIntervalMs);
    // A pool adopted from a previous life keeps the size last asked of it (the latest decision).
    for (const p of this.#pools.values()) await this.scale(p.name, this.#desired.get(p.name) ?? p.replicas);
  }

  /** Takes over the servers a previous life of this driver recorded (see adoption.ts). */
  async #adoptRecorded(): Promise<void> {
    if (!this.#file) return;
    const me = selfIdentity();
    if (!me) {
      this.#opts.onEvent?.({ type: "state-error", message: "no /proc: servers are not recorded or adopted" });
      return;
    }
    const state = this.#file.read();
    if (state.owner && !sameProcess(state.owner, me)) {
      const owner = observeProcess(state.owner.pid);
      if (owner && !owner.zombie && sameProcess(owner, state.owner))
        throw new Error(
          `${this.#file.path} belongs to a running deployer (pid ${owner.pid}); give each deployer its own stateDir`,
        );
    }
    this.#owner = me;
    for (const [pool, n] of Object.entries(state.seq)) this.#seq.set(pool, n);
    for (const r of state.servers)
      this.#seq.set(r.pool, Math.max(this.#seq.get(r.pool) ?? 0, podNumber(r.pool, r.pod)));
    for (const [name, n] of Object.entries(state.desired))
      if (this.#pools.has(name)) this.#desired.set(name, n);
    // Claim the file before touching any server, so a second deployer on it is refused.
    this.#persist(state.servers);
    const adopted = await adoptRecorded(state, {
      argvFor: (r) => {
        const pool = this.#pools.get(r.pool);
        return pool ? this.#argv(pool, r.pod, r.port, r.kvEventsPort, r.kvReplayPort) : undefined;
      },
      healthy: (r) => healthy(`http://127.0.0.1:${r.port}`, this.#probeTimeoutMs()),
      timeoutMs: this.#opts.adoptTimeoutMs,
      pollMs: this.#opts.healthIntervalMs,
      killAfterMs: this.#opts.killAfterMs,
      onAdopted: (a) =>
        this.#opts.onEvent?.({
          type: "adopted",
          pod: a.record.pod,
          pid: a.record.process.pid,
          state: a.state,
        }),
      onNotAdopted: (r, reason) =>
        this.#opts.onEvent?.({ type: "not-adopted", pod: r.pod, pid: r.process.pid, reason }),
    });
    for (const a of adopted) this.#adopt(a);
    this.#persist();
    if (adopted.length > 0) this.#changes.emit();
  }

  #adopt(a: AdoptedRecord): void {
    const r = a.record;
    const pool = this.#pools.get(r.pool)!;
    const server: Server = {
      pod: r.pod,
      pool,
      port: r.port,
      kvEventsPort: r.kvEventsPort,
      kvReplayPort: r.kvReplayPort,
      // Ready ones answered /health just now: READY from the first inventory write, never
      // STARTING. A starting one stays starting until it answers (the probe loop, as a child);
      // a draining one turns draining below, before anything is written.
      state: a.state === "starting" ? "starting" : "ready",
      startedAt: r.spawnedAt,
      spawnedAt: r.spawnedAt,
      identity: r.process,
      argv: [...r.argv],
      ...notRunning(),
    };
    this.#servers.set(server.pod, server);
    this.#watch(server, adoptedServer(r.process, this.#opts.healthIntervalMs));
    // A drain the previous life began goes on (draining at once: never written ready again).
    if (a.state === "draining") void this.#drain(server);
  }

  #probeTimeoutMs(): number {
    return Math.max(500, this.#opts.healthIntervalMs * 5);
  }

  /** Records the running servers (or, before adoption, the recorded ones) with the owner. */
  #persist(recorded?: readonly ServerRecord[]): void {
    if (!this.#file || !this.#owner) return;
    const servers =
      recorded ??
      [...this.#servers.values()].flatMap((s): ServerRecord[] =>
        s.proc && s.identity
          ? [
              {
                pool: s.pool.name,
                pod: s.pod,
                process: s.identity,
                port: s.port,
                kvEventsPort: s.kvEventsPort,
                kvReplayPort: s.kvReplayPort,
                argv: s.argv,
                spawnedAt: s.spawnedAt,
                state: s.state,
              },
            ]
          : [],
      );
    try {
      this.#file.write({
        owner: this.#owner,
        servers,
        seq: Object.fromEntries(this.#seq),
        desired: Object.fromEntries(this.#desired),
      });
    } catch (err) {
      this.#opts.onEvent?.({ type: "state-error", message: (err as Error).message });
    }
  }

  pools(): PoolSpec[] {
    return [...this.#pools.values()];
  }

  desired(pool: string): number | undefined {
    return this.#desired.get(pool);
  }

  replicas(): Replica[] {
    return [...this.#servers.values()].map((s) => ({
      pool: s.pool.name,
      model: s.pool.model,
      pod: s.pod,
      address: `http://127.0.0.1:${s.port}`,
      state: s.state,
      role: "both",
      loraAdapters: [],
      kvEventsEndpoint: `tcp://127.0.0.1:${s.kvEventsPort}`,
      kvReplayEndpoint: `tcp://127.0.0.1:${s.kvReplayPort}`,
      blockSize: this.#opts.blockSize,
      labels: {},
    }));
  }

  onChange(listener: () => void): () => void {
    return this.#changes.on(listener);
  }

  scale(poolName: string, replicas: number): Promise<void> {
    const pool = this.#pools.get(poolName);
    if (!pool)
      return Promise.reject(
        new Error(`unknown pool "${poolName}" (known: ${[...this.#pools.keys()].join(", ")})`),
      );
    const target = clampReplicas(replicas, pool);
    this.#desired.set(poolName, target);
    this.#persist();
    const run = this.#queue.then(() => this.#reconcile(pool, target));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #reconcile(pool: PoolSpec, target: number): Promise<void> {
    if (this.#stopped) return;
    const mine = [...this.#servers.values()].filter((s) => s.pool.name === pool.name);
    const live = mine.filter((s) => s.state !== "draining");
    for (let i = live.length; i < target; i++) await this.#add(pool);
    // Drains run in the background: the call returns once the servers are marked draining.
    for (const s of pickForRemoval(mine, target)) void this.#drain(s);
  }

  async #add(pool: PoolSpec): Promise<void> {
    const n = (this.#seq.get(pool.name) ?? 0) + 1;
    this.#seq.set(pool.name, n);
    const server: Server = {
      pod: `${pool.name}-${n}`,
      pool,
      port: await freePort(),
      kvEventsPort: await freePort(),
      kvReplayPort: await freePort(),
      state: "starting",
      startedAt: Date.now(),
      spawnedAt: Date.now(),
      identity: undefined,
      argv: [],
      ...notRunning(),
    };
    this.#servers.set(server.pod, server);
    this.#spawn(server);
    this.#changes.emit();
  }

  #argv(pool: PoolSpec, pod: string, port: number, kvEventsPort: number, kvReplayPort: number): string[] {
    return expandCommand([...this.#opts.command, ...pool.args], {
      model: pool.model,
      pool: pool.name,
      pod,
      port,
      kvEventsPort,
      kvReplayPort,
      kvEventsConfig: kvEventsConfig(kvEventsPort, kvReplayPort, this.#opts.kvEventsTopic),
    });
  }

  #spawn(s: Server): void {
    const argv = this.#argv(s.pool, s.pod, s.port, s.kvEventsPort, s.kvReplayPort);
    const [command, ...args] = argv;
    if (!command) throw new Error("command template is empty");
    const child = spawn(command, args, {
      env: this.#opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    s.argv = argv;
    s.spawnedAt = Date.now();
    s.state = "starting";
    s.failedProbes = 0;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const lines = createInterface({ input: stream });
      lines.on("line", (line) => this.#opts.onOutput?.(s.pod, line));
    }
    child.once("error", (err) => this.#opts.onOutput?.(s.pod, `[spawn error] ${err.message}`));
    const seen = child.pid === undefined ? undefined : observeProcess(child.pid);
    s.identity = seen && { pid: seen.pid, startTime: seen.startTime, bootId: seen.bootId };
    this.#watch(s, childServer(child));
    this.#persist();
    this.#opts.onEvent?.({ type: "spawned", pod: s.pod, pid: child.pid });
  }

  /** Makes `proc` the server's process: its exit is handled the same whether spawned or adopted. */
  #watch(s: Server, proc: ServerProcess): void {
    s.proc = proc;
    s.exited = proc.exited.then(({ code, signal }) => this.#onExit(s, proc, code, signal));
  }

  #onExit(s: Server, proc: ServerProcess, code: number | null, signal: string | null): void {
    if (s.proc !== proc) return;
    s.proc = undefined;
    s.identity = undefined;
    const expected = s.stopping || this.#stopped;
    this.#opts.onEvent?.({ type: "exited", pod: s.pod, code, signal, expected });
    if (expected) {
      this.#servers.delete(s.pod);
      this.#persist();
      this.#opts.onEvent?.({ type: "removed", pod: s.pod });
      this.#changes.emit();
      return;
    }
    // A crash: out of routing at once, back after a growing delay (an adopted server comes back
    // as a child, on the same ports).
    s.crashes += 1;
    s.state = "unhealthy";
    this.#persist();
    this.#changes.emit();
    const inMs = restartDelayMs(s.crashes, this.#opts.restartBaseMs, this.#opts.restartMaxMs);
    this.#opts.onEvent?.({ type: "restart", pod: s.pod, inMs });
    s.restartTimer = setTimeout(() => {
      s.restartTimer = undefined;
      if (!s.stopping && !this.#stopped) this.#spawn(s);
    }, inMs);
  }

  async #probeAll(): Promise<void> {
    // A slow round (a loaded machine) is not stacked under the next one.
    if (this.#probing) return;
    this.#probing = true;
    try {
      await this.#probeRound();
    } finally {
      this.#probing = false;
    }
  }

  async #probeRound(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.#servers.values()].map(async (s) => {
        if (!s.proc || s.stopping || s.state === "draining") return;
        if (
          !probeDue(s, now, {
            intervalMs: this.#opts.healthIntervalMs,
            readyIntervalMs: this.#opts.healthReadyIntervalMs,
          })
        )
          return;
        s.probedAt = now;
        const ok = await healthy(`http://127.0.0.1:${s.port}`, this.#probeTimeoutMs());
        // The server may have been drained or stopped while the probe ran.
        if (!s.proc || s.stopping) return;
        if (ok) {
          s.failedProbes = 0;
          if (s.state !== "ready") {
            s.state = "ready";
            s.crashes = 0;
            this.#persist();
            this.#opts.onEvent?.({ type: "ready", pod: s.pod, afterMs: Date.now() - s.spawnedAt });
            this.#changes.emit();
          }
        } else if (s.state === "ready" && ++s.failedProbes >= this.#opts.unhealthyAfter) {
          s.state = "unhealthy";
          this.#persist();
          this.#changes.emit();
        }
      }),
    );
  }

  async #drain(s: Server): Promise<void> {
    if (s.stopping) return s.exited;
    s.stopping = true;
    s.state = "draining";
    this.#persist();
    this.#opts.onEvent?.({ type: "draining", pod: s.pod });
    this.#changes.emit();
    if (s.restartTimer) clearTimeout(s.restartTimer);
    if (!s.proc) {
      this.#servers.delete(s.pod);
      this.#persist();
      this.#changes.emit();
      return;
    }
    const address = `http://127.0.0.1:${s.port}`;
    await delay(this.#opts.drainSettleMs);
    const deadline = Date.now() + this.#opts.drainGraceMs;
    while (Date.now() < deadline && s.proc) {
      const n = await inFlight(address, 1_000);
      if (n === 0) break;
      await delay(Math.min(200, this.#opts.healthIntervalMs * 2));
    }
    await this.#terminate(s);
  }

  /** SIGTERM, SIGKILL `killAfterMs` later; by pid for an adopted server. */
  async #terminate(s: Server): Promise<void> {
    const proc = s.proc;
    if (!proc) return;
    proc.kill("SIGTERM");
    const kill = setTimeout(() => proc.kill("SIGKILL"), this.#opts.killAfterMs);
    await s.exited;
    clearTimeout(kill);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#queue;
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    await Promise.all(
      [...this.#servers.values()].map(async (s) => {
        if (s.restartTimer) clearTimeout(s.restartTimer);
        s.stopping = true;
        await this.#terminate(s);
        this.#servers.delete(s.pod);
      }),
    );
    // Nothing of ours runs any more: a later start adopts nothing and starts the configured size.
    if (this.#file && this.#owner) {
      try {
        this.#file.write(EMPTY_STATE);
      } catch (err) {
        this.#opts.onEvent?.({ type: "state-error", message: (err as Error).message });
      }
    }
    this.#changes.emit();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
