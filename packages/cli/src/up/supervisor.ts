import { type ChildProcess, spawn } from "node:child_process";
import { attemptAfterRun, type BackoffPolicy, DEFAULT_BACKOFF, restartDelayMs } from "./backoff.ts";
import { formatPrefix, linePrefixer } from "./prefix-lines.ts";

export interface ComponentSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves when the component serves (polled until it does or the deadline passes). */
  ready(): Promise<boolean>;
  /** How long to wait for readiness (default 30 s). */
  readyTimeoutMs?: number;
}

/**
 * What a component exiting on its own does: "restart" it with backoff (the default of
 * `inferd up`: the stack stops only on Ctrl-C), "stop" the whole stack, or "continue" without
 * it (fault-injection tests kill parts on purpose and restart them themselves).
 */
export type ExitPolicy = "restart" | "stop" | "continue";

export interface SupervisorOptions {
  write?: (text: string) => void;
  colour?: boolean;
  /** Called once when the stack stops, with the reason. */
  onStop?: (reason: string) => void;
  /** Default "stop" for library users; `inferd up` passes its --on-exit (default restart). */
  onComponentExit?: ExitPolicy;
  backoff?: BackoffPolicy;
}

interface Running {
  spec: ComponentSpec;
  prefix: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  startedAt: number;
  /** Restarts so far (for the log line) and the backoff attempt (reset once stable). */
  restarts: number;
  attempt: number;
}

/**
 * Starts components in order, each only after the previous one is ready, and prefixes their
 * output. A component exiting on its own is restarted with backoff, stops the stack or is left
 * down (ExitPolicy); stop() stops all in reverse order (SIGTERM, then SIGKILL after a grace
 * period).
 */
export class Supervisor {
  readonly #running: Running[] = [];
  readonly #options: SupervisorOptions;
  #stopping: Promise<void> | undefined;
  readonly #width: number;
  readonly #restartTimers = new Set<NodeJS.Timeout>();
  /**
   * Process groups of every incarnation started (each component leads its own group). A component
   * killed with SIGKILL leaves its own children behind (the deployer's model servers keep serving
   * until its next life takes over); they stay in the dead component's group, so stopping the stack
   * signals whole groups and nothing outlives `inferd up`.
   */
  readonly #groups = new Set<number>();
  /** Resolves with the reason once everything has stopped. */
  readonly stopped: Promise<string>;
  #resolveStopped: (reason: string) => void = () => undefined;

  constructor(names: readonly string[], options: SupervisorOptions = {}) {
    this.#options = options;
    // If this process exits for any reason without a clean stop, take the children with it.
    process.once("exit", () => {
      for (const r of this.#running) if (r.child.exitCode === null) r.child.kill("SIGKILL");
      for (const g of this.#groups) signalGroup(g, "SIGKILL");
    });
    this.#width = Math.max(...names.map((n) => n.length), 4);
    this.stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
  }

  #write(text: string): void {
    (this.#options.write ?? ((t) => process.stdout.write(t)))(text);
  }

  /** Process ids of the components started so far (current incarnation), by name. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.#running.map((r) => [r.spec.name, r.child.pid]));
  }

  /** Restarts so far, by name. */
  restarts(): Record<string, number> {
    return Object.fromEntries(this.#running.map((r) => [r.spec.name, r.restarts]));
  }

  async start(spec: ComponentSpec): Promise<void> {
    if (this.#stopping) throw new Error("the stack is stopping");
    const index = this.#running.length;
    const prefix = formatPrefix(spec.name, index, this.#width, this.#options.colour ?? false);
    const running: Running = {
      spec,
      prefix,
      child: undefined as unknown as ChildProcess,
      exited: Promise.resolve(null),
      startedAt: 0,
      restarts: 0,
      attempt: 0,
    };
    this.#spawn(running);
    this.#running.push(running);

    const deadline = Date.now() + (spec.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (this.#stopping) throw new Error(`stopped while waiting for ${spec.name}`);
      if (await spec.ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        await this.stop(`${spec.name} was not ready in time`);
        throw new Error(`${spec.name} was not ready within ${spec.readyTimeoutMs ?? 30_000} ms`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Starts (or restarts) one component's process and wires its output and exit. */
  #spawn(r: Running): void {
    const { spec, prefix } = r;
    const child = spawn(spec.command, spec.args, {
      env: spec.env ?? process.env,
      cwd: spec.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group (see #groups); Ctrl-C reaches inferd up, which stops the parts in order.
      detached: true,
    });
    if (child.pid !== undefined) this.#groups.add(child.pid);
    const out = linePrefixer(prefix, (l) => this.#write(l));
    const err = linePrefixer(prefix, (l) => this.#write(l));
    child.stdout?.on("data", (c) => out.push(c));
    child.stderr?.on("data", (c) => err.push(c));
    r.child = child;
    r.startedAt = Date.now();
    r.exited = new Promise<number | null>((resolve) => {
      child.once("error", (e) => {
        this.#write(`${prefix}failed to start: ${e.message}\n`);
        resolve(-1);
      });
      child.once("exit", (code, signal) => {
        out.flush();
        err.flush();
        if (!this.#stopping) this.#write(`${prefix}exited (${signal ?? `code ${code}`})\n`);
        resolve(code);
      });
    });
    void r.exited.then(() => {
      if (this.#stopping) return;
      const policy = this.#options.onComponentExit ?? "stop";
      if (policy === "stop") void this.stop(`${spec.name} exited`);
      else if (policy === "restart") this.#scheduleRestart(r);
    });
  }

  #scheduleRestart(r: Running): void {
    const backoff = this.#options.backoff ?? DEFAULT_BACKOFF;
    const attempt = attemptAfterRun(backoff, r.attempt, Date.now() - r.startedAt);
    const delay = restartDelayMs(backoff, attempt);
    r.attempt = attempt + 1;
    r.restarts += 1;
    this.#write(`${r.prefix}restarting in ${delay} ms (restart ${r.restarts})\n`);
    const timer = setTimeout(() => {
      this.#restartTimers.delete(timer);
      if (this.#stopping) return;
      this.#spawn(r);
      void this.#announceReady(r, r.child);
    }, delay);
    this.#restartTimers.add(timer);
  }

  /** Logs when a restarted component serves again (gives up when it exits first). */
  async #announceReady(r: Running, child: ChildProcess): Promise<void> {
    const deadline = Date.now() + (r.spec.readyTimeoutMs ?? 30_000);
    while (!this.#stopping && r.child === child && child.exitCode === null && Date.now() < deadline) {
      if (await r.spec.ready().catch(() => false)) {
        this.#write(`${r.prefix}ready again after restart ${r.restarts}\n`);
        return;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  stop(reason: string): Promise<void> {
    this.#stopping ??= (async () => {
      this.#options.onStop?.(reason);
      for (const t of this.#restartTimers) clearTimeout(t);
      this.#restartTimers.clear();
      for (const r of [...this.#running].reverse()) {
        if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
        r.child.kill("SIGTERM");
        const timer = setTimeout(() => r.child.kill("SIGKILL"), 8_000);
        await r.exited;
        clearTimeout(timer);
      }
      // What the parts left behind (children of an incarnation killed earlier): TERM, then KILL.
      const left = [...this.#groups].filter((g) => signalGroup(g, "SIGTERM"));
      const deadline = Date.now() + 5_000;
      while (left.some((g) => signalGroup(g, 0)) && Date.now() < deadline)
        await new Promise((res) => setTimeout(res, 50));
      for (const g of left) signalGroup(g, "SIGKILL");
      this.#resolveStopped(reason);
    })();
    return this.#stopping;
  }
}

/** Signals every process of a group; false when none is left (signal 0 only asks). */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
