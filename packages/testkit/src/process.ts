import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far (for error messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now; resolves when the process has exited. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

export interface StartProcessOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep at most this many characters of output (default 64 KiB). */
  maxOutput?: number;
}

/** Spawns a child process whose output is kept for diagnostics and which is killed on test exit. */
export function startProcess(options: StartProcessOptions): ManagedProcess {
  const child = spawn(options.command, options.args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const max = options.maxOutput ?? 65_536;
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-max);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
  child.once("error", (err) => {
    output += `\n[spawn error] ${err.message}`;
  });
  const cleanup = () => child.kill("SIGKILL");
  process.once("exit", cleanup);
  exited.then(() => process.off("exit", cleanup));

  const isRunning = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => output,
    exited,
    async stop(graceMs = 5_000) {
      if (!isRunning()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (!isRunning()) return;
      child.kill("SIGKILL");
      await once(child, "exit").catch(() => undefined);
    },
  };
}
