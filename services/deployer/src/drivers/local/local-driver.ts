import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { restartDelayMs } from "../../domain/backoff.ts";
import { clampReplicas, type PoolSpec } from "../../domain/pools.ts";
import type { Replica, ReplicaState } from "../../domain/replica.ts";
import { pickForRemoval } from "../../domain/scale-down.ts";
import { ChangeEmitter, type PoolDriver } from "../driver.ts";
import { expandCommand, kvEventsConfig } from "./command-template.ts";
import { allocatePort } from "./ports.ts";
import { healthy, inFlight } from "./probes.ts";

export interface LocalDriverOptions {
  pools: readonly PoolSpec[];
  /** argv template (see command-template.ts); the pool's `args` are appended. */
  command: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Time between /health probes of each server. */
  healthIntervalMs?: number;
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
  /** Each line a server prints (for prefixed logs). */
  onOutput?: (pod: string, line: string) => void;
  onEvent?: (event: LocalDriverEvent) => void;
}

export type LocalDriverEvent =
  | { type: "spawned"; pod: string; pid: number | undefined }
  | { type: "ready"; pod: string; afterMs: number }
  | { type: "exited"; pod: string; code: number | null; signal: string | null; expected: boolean }
  | { type: "restart"; pod: string; inMs: number }
  | { type: "draining"; pod: string }
  | { type: "removed"; pod: string };

interface Server {
  readonly pod: string;
  readonly pool: PoolSpec;
  readonly port: number;
  readonly kvEventsPort: number;
  readonly kvReplayPort: number;
  state: ReplicaState;
  startedAt: number;
  spawnedAt: number;
  child: ChildProcess | undefined;
  crashes: number;
  failedProbes: number;
  stopping: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  exited: Promise<void>;
}

/** Model servers as child processes of the deployer: model-sim by default, or any vLLM command line. */
export class LocalDriver implements PoolDriver {
  readonly kind = "local";
  readonly #opts: Required<Omit<LocalDriverOptions, "onOutput" | "onEvent" | "env">> &
    Pick<LocalDriverOptions, "onOutput" | "onEvent" | "env">;
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
      unhealthyAfter: 2,
      drainSettleMs: 500,
      drainGraceMs: 30_000,
      killAfterMs: 5_000,
      restartBaseMs: 500,
      restartMaxMs: 30_000,
      blockSize: 16,
      ...options,
    };
    for (const p of options.pools) this.#pools.set(p.name, p);
  }

  async start(): Promise<void> {
    this.#probeTimer = setInterval(() => void this.#probeAll(), this.#opts.healthIntervalMs);
    for (const p of this.#pools.values()) await this.scale(p.name, p.replicas);
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
      port: await allocatePort(),
      kvEventsPort: await allocatePort(),
      kvReplayPort: await allocatePort(),
      state: "starting",
      startedAt: Date.now(),
      spawnedAt: Date.now(),
      child: undefined,
      crashes: 0,
      failedProbes: 0,
      stopping: false,
      restartTimer: undefined,
      exited: Promise.resolve(),
    };
    this.#servers.set(server.pod, server);
    this.#spawn(server);
    this.#changes.emit();
  }

  #spawn(s: Server): void {
    const argv = expandCommand([...this.#opts.command, ...s.pool.args], {
      model: s.pool.model,
      pool: s.pool.name,
      pod: s.pod,
      port: s.port,
      kvEventsPort: s.kvEventsPort,
      kvReplayPort: s.kvReplayPort,
      kvEventsConfig: kvEventsConfig(s.kvEventsPort, s.kvReplayPort),
    });
    const [command, ...args] = argv;
    if (!command) throw new Error("command template is empty");
    const child = spawn(command, args, {
      env: this.#opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    s.child = child;
    s.spawnedAt = Date.now();
    s.state = "starting";
    s.failedProbes = 0;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const lines = createInterface({ input: stream });
      lines.on("line", (line) => this.#opts.onOutput?.(s.pod, line));
    }
    child.once("error", (err) => this.#opts.onOutput?.(s.pod, `[spawn error] ${err.message}`));
    s.exited = new Promise((resolve) => {
      child.once("close", (code, signal) => {
        resolve();
        this.#onExit(s, child, code, signal);
      });
    });
    this.#opts.onEvent?.({ type: "spawned", pod: s.pod, pid: child.pid });
  }

  #onExit(s: Server, child: ChildProcess, code: number | null, signal: string | null): void {
    if (s.child !== child) return;
    s.child = undefined;
    const expected = s.stopping || this.#stopped;
    this.#opts.onEvent?.({ type: "exited", pod: s.pod, code, signal, expected });
    if (expected) {
      this.#servers.delete(s.pod);
      this.#opts.onEvent?.({ type: "removed", pod: s.pod });
      this.#changes.emit();
      return;
    }
    // A crash: out of routing at once, back after a growing delay.
    s.crashes += 1;
    s.state = "unhealthy";
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
    await Promise.all(
      [...this.#servers.values()].map(async (s) => {
        if (!s.child || s.stopping || s.state === "draining") return;
        const ok = await healthy(
          `http://127.0.0.1:${s.port}`,
          Math.max(500, this.#opts.healthIntervalMs * 5),
        );
        // The server may have been drained or stopped while the probe ran.
        if (!s.child || s.stopping) return;
        if (ok) {
          s.failedProbes = 0;
          if (s.state !== "ready") {
            s.state = "ready";
            s.crashes = 0;
            this.#opts.onEvent?.({ type: "ready", pod: s.pod, afterMs: Date.now() - s.spawnedAt });
            this.#changes.emit();
          }
        } else if (s.state === "ready" && ++s.failedProbes >= this.#opts.unhealthyAfter) {
          s.state = "unhealthy";
          this.#changes.emit();
        }
      }),
    );
  }

  async #drain(s: Server): Promise<void> {
    if (s.stopping) return s.exited;
    s.stopping = true;
    s.state = "draining";
    this.#opts.onEvent?.({ type: "draining", pod: s.pod });
    this.#changes.emit();
    if (s.restartTimer) clearTimeout(s.restartTimer);
    if (!s.child) {
      this.#servers.delete(s.pod);
      this.#changes.emit();
      return;
    }
    const address = `http://127.0.0.1:${s.port}`;
    await delay(this.#opts.drainSettleMs);
    const deadline = Date.now() + this.#opts.drainGraceMs;
    while (Date.now() < deadline && s.child) {
      const n = await inFlight(address, 1_000);
      if (n === 0) break;
      await delay(Math.min(200, this.#opts.healthIntervalMs * 2));
    }
    await this.#terminate(s);
  }

  async #terminate(s: Server): Promise<void> {
    const child = s.child;
    if (!child) return;
    child.kill("SIGTERM");
    const kill = setTimeout(() => child.kill("SIGKILL"), this.#opts.killAfterMs);
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
    this.#changes.emit();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
