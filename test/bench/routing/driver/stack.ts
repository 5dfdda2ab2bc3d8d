import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** What `inferd up` prints on its INFERD_UP_READY line (the fields the benchmark uses). */
export interface StackInfo {
  readonly gateway?: string;
  /** Every gateway replica (inferd up --gateway-replicas). */
  readonly gateways?: readonly string[];
  readonly scorer?: string;
  /** embedded: the scorer runs in each gateway, its metrics on the gateway's /metrics. */
  readonly scorerMode?: "nats" | "embedded";
  readonly nats: string;
  readonly sims: ReadonlyArray<{
    readonly pod: string;
    readonly address: string;
    readonly kvEvents?: string;
  }>;
  readonly model?: string;
  readonly pids?: Readonly<Record<string, number | undefined>>;
}

export const REPO_ROOT = resolve(import.meta.dirname, "../../../..");

export interface StackOptions {
  readonly sims: number;
  /** inferd up --gateway-replicas / --scorer-replicas (default 1 each). */
  readonly gatewayReplicas?: number;
  readonly scorerReplicas?: number;
  /** inferd up --scorer-mode (default nats). */
  readonly scorerMode?: "nats" | "embedded";
  readonly profile: string;
  readonly model: string;
  /** Scorer built-in profile (INFERD_SCORER_PROFILE). */
  readonly scorerProfile: string | null;
  /** Extra environment for every component (service config keys). */
  readonly env?: Readonly<Record<string, string>>;
  readonly readyTimeoutMs: number;
  /** `inferd up --services` (default all); "none" = only nats, redis and the fleet, for peer routers. */
  readonly services?: string;
  /** `inferd up --kv-events-topic` (default: inferd up's, kv@{pod}@{model}). */
  readonly kvEventsTopic?: string;
  /** Receives every output line of the stack (for a log file). */
  readonly onLine?: (line: string) => void;
}

/** Parses the INFERD_UP_READY line; null for any other line. */
export function parseReadyLine(line: string): StackInfo | null {
  const tag = "INFERD_UP_READY ";
  const i = line.indexOf(tag);
  if (i < 0) return null;
  const info = JSON.parse(line.slice(i + tag.length)) as StackInfo;
  if (!Array.isArray(info.sims)) throw new Error("INFERD_UP_READY without sims");
  return info;
}

/**
 * One fresh stack from `inferd up --ports auto` in its own state directory, so every policy starts
 * with cold KV caches, an empty index and an empty JetStream store.
 */
export class Stack {
  readonly info: StackInfo;
  private readonly child: ChildProcess | null;
  private readonly stateDir: string | null;
  private readonly exited: Promise<number | null>;
  /** Why the stack stopped on its own ("inferd up: stopping (kv-index exited)"), once it has. */
  private stoppedBecause: string | null = null;
  private stopping = false;

  private constructor(
    info: StackInfo,
    child: ChildProcess | null,
    stateDir: string | null,
    exited: Promise<number | null>,
  ) {
    this.info = info;
    this.child = child;
    this.stateDir = stateDir;
    this.exited = exited;
    void exited.then((code) => {
      if (!this.stopping) this.stoppedBecause ??= `inferd up exited (code ${code})`;
    });
  }

  /** Null while the stack runs; otherwise why it stopped without being asked to. */
  get failure(): string | null {
    return this.stopping ? null : this.stoppedBecause;
  }

  /** Called for every output line after start (the supervisor announces why it stops). */
  noteLine(line: string): void {
    const m = /inferd up: stopping \((.*)\)/.exec(line);
    if (m && !this.stopping) this.stoppedBecause ??= `inferd up stopped: ${m[1]}`;
  }

  static async start(o: StackOptions): Promise<Stack> {
    let stack: Stack | null = null;
    const stateDir = mkdtempSync(join(tmpdir(), "inferd-bench-"));
    const env: NodeJS.ProcessEnv = { ...process.env, ...o.env, FORCE_COLOR: "0" };
    if (o.scorerProfile !== null) env.INFERD_SCORER_PROFILE = o.scorerProfile;
    const args = [
      join(REPO_ROOT, "packages/cli/src/main.ts"),
      "up",
      "--ports",
      "auto",
      "--sims",
      String(o.sims),
      "--profile",
      o.profile,
      "--model",
      o.model,
      "--state-dir",
      stateDir,
      "--gateway-replicas",
      String(o.gatewayReplicas ?? 1),
      "--scorer-replicas",
      String(o.scorerReplicas ?? 1),
      ...(o.scorerMode === "embedded" ? ["--scorer-mode", "embedded"] : []),
      ...(o.services !== undefined ? ["--services", o.services] : []),
      ...(o.kvEventsTopic !== undefined ? ["--kv-events-topic", o.kvEventsTopic] : []),
    ];
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
    const tail: string[] = [];
    const info = await new Promise<StackInfo>((res, rej) => {
      const timer = setTimeout(
        () =>
          rej(
            new Error(`inferd up not ready after ${o.readyTimeoutMs} ms; last output:\n${tail.join("\n")}`),
          ),
        o.readyTimeoutMs,
      );
      const onLine = (line: string) => {
        o.onLine?.(line);
        stack?.noteLine(line);
        tail.push(line);
        if (tail.length > 30) tail.shift();
        let parsed: StackInfo | null = null;
        try {
          parsed = parseReadyLine(line);
        } catch (err) {
          clearTimeout(timer);
          rej(err as Error);
        }
        if (parsed) {
          clearTimeout(timer);
          res(parsed);
        }
      };
      lines(child.stdout!, onLine);
      lines(child.stderr!, onLine);
      void exited.then((code) => {
        clearTimeout(timer);
        rej(
          new Error(`inferd up exited (code ${code}) before it was ready; last output:\n${tail.join("\n")}`),
        );
      });
    }).catch(async (err) => {
      await stopChild(child, exited, undefined);
      rmSync(stateDir, { recursive: true, force: true });
      throw err;
    });
    stack = new Stack(info, child, stateDir, exited);
    return stack;
  }

  /** A stack someone else runs (--attach): never stopped by the benchmark. */
  static attach(readyJson: string): Stack {
    const info = parseReadyLine(
      readyJson.includes("INFERD_UP_READY") ? readyJson : `INFERD_UP_READY ${readyJson}`,
    );
    if (info === null) throw new Error("--attach: not an INFERD_UP_READY JSON object");
    return new Stack(info, null, null, Promise.resolve(null));
  }

  /** Stops the stack (SIGINT, as Ctrl-C), waits for it, removes its state. */
  async stop(): Promise<void> {
    if (this.child === null || this.stateDir === null) return;
    this.stopping = true;
    await stopChild(this.child, this.exited, this.info.pids);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<number | null>,
  pids: Readonly<Record<string, number | undefined>> | undefined,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGINT");
  const graceful = await Promise.race([exited.then(() => true), delay(20_000).then(() => false)]);
  if (graceful) return;
  // The supervisor did not stop in time: kill it and then the components it started, by their ids.
  child.kill("SIGKILL");
  for (const pid of Object.values(pids ?? {})) {
    if (pid === undefined) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await exited;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
