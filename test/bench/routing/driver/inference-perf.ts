import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { type IpStageInput, type IpStageReport, inferencePerfConfig } from "../lib/inference-perf-client.ts";

/**
 * Runs inference-perf (from the peers' venv) for one stage and returns its per-stage report. Its
 * config, log and reports stay in `i.outDir` (beside the bench's own reports).
 */
export async function runInferencePerfStage(
  venv: string,
  i: IpStageInput,
  signal?: AbortSignal,
): Promise<IpStageReport> {
  mkdirSync(i.outDir, { recursive: true });
  const configPath = join(i.outDir, "config.yaml");
  writeFileSync(configPath, stringify(inferencePerfConfig(i)));
  const log: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(join(venv, "bin", "inference-perf"), ["-c", configPath, "--log-level", "WARNING"], {
      cwd: i.outDir,
      env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const onAbort = () => child.kill("SIGINT");
    signal?.addEventListener("abort", onAbort, { once: true });
    for (const s of [child.stdout!, child.stderr!]) s.on("data", (c: Buffer) => log.push(c.toString("utf8")));
    child.once("error", reject);
    child.once("exit", (c) => {
      signal?.removeEventListener("abort", onAbort);
      resolve(c);
    });
  });
  writeFileSync(join(i.outDir, "inference-perf.log"), log.join(""));
  const report = findFile(i.outDir, "stage_0_lifecycle_metrics.json");
  if (code !== 0 || report === null)
    throw new Error(
      `inference-perf exited with code ${code}${report === null ? " without a stage report" : ""}; log: ${join(i.outDir, "inference-perf.log")}`,
    );
  return JSON.parse(readFileSync(report, "utf8")) as IpStageReport;
}

function findFile(dir: string, name: string): string | null {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isFile() && e.name.endsWith(name)) return p;
    if (e.isDirectory()) {
      const found = findFile(p, name);
      if (found !== null) return found;
    }
  }
  return null;
}
