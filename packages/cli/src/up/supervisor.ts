import { type ChildProcess, spawn } from "node:child_process";
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

export interface SupervisorOptions {
  write?: (text: string) => void;
  colour?: boolean;
  /** Called once when the stack stops, with the reason. */
  onStop?: (reason: string) => void;
  /**
   * What a component exiting on its own does: "stop" the whole stack (the default, what a person
   * wants), or "continue" without it (fault-injection tests kill parts on purpose).
   */
  onComponentExit?: "stop" | "continue";
}

interface Running {
  spec: ComponentSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Starts components in order, each only after the previous one is ready; prefixes their output;
 * when one exits unexpectedly, or stop() is called, stops all the others in reverse order
 * (SIGTERM, then SIGKILL after a grace period).
 */
export class Supervisor {
  readonly #running: Running[] = [];
  readonly #options: SupervisorOptions;
  #stopping: Promise<void> | undefined;
  readonly #width: number;
  /** Resolves with the reason once everything has stopped. */
  readonly stopped: Promise<string>;
  #resolveStopped: (reason: string) => void = () => undefined;

  constructor(names: readonly string[], options: SupervisorOptions = {}) {
    this.#options = options;
    // If this process exits for any reason without a clean stop, take the children with it.
    process.once("exit", () => {
      for (const r of this.#running) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    });
    this.#width = Math.max(...names.map((n) => n.length), 4);
    this.stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
  }

  #write(text: string): void {
    (this.#options.write ?? ((t) => process.stdout.write(t)))(text);
  }

  /** Process ids of the components started so far, by name. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.#running.map((r) => [r.spec.name, r.child.pid]));
  }

  async start(spec: ComponentSpec): Promise<void> {
    if (this.#stopping) throw new Error("the stack is stopping");
    const index = this.#running.length;
    const prefix = formatPrefix(spec.name, index, this.#width, this.#options.colour ?? false);
    const child = spawn(spec.command, spec.args, {
      env: spec.env ?? process.env,
      cwd: spec.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = linePrefixer(prefix, (l) => this.#write(l));
    const err = linePrefixer(prefix, (l) => this.#write(l));
    child.stdout?.on("data", (c) => out.push(c));
    child.stderr?.on("data", (c) => err.push(c));
    const exited = new Promise<number | null>((resolve) => {
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
    const running = { spec, child, exited };
    this.#running.push(running);
    void exited.then(() => {
      if (!this.#stopping && this.#options.onComponentExit !== "continue")
        void this.stop(`${spec.name} exited`);
    });

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

  stop(reason: string): Promise<void> {
    this.#stopping ??= (async () => {
      this.#options.onStop?.(reason);
      for (const r of [...this.#running].reverse()) {
        if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
        r.child.kill("SIGTERM");
        const timer = setTimeout(() => r.child.kill("SIGKILL"), 8_000);
        await r.exited;
        clearTimeout(timer);
      }
      this.#resolveStopped(reason);
    })();
    return this.#stopping;
  }
}
