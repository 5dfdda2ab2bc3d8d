import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, envName, type Logger } from "@inferd/service-kit";
import { freePort, type ManagedProcess, startProcess, waitFor } from "@inferd/testkit";
import { loadScorerConfig, type ScorerConfig } from "../../src/config.ts";

/** A logger that swallows output (tests assert on behaviour, not log lines). */
export function quietLogger(): Logger {
  return createLogger({
    service: "scorer-test",
    level: "warn",
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
}

export function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "scorer-test-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Scorer config for tests: given NATS, no tokenizer download, no ops port clash, nothing scraped unless asked. */
export function testConfig(natsUrl: string, over: Record<string, string> = {}): ScorerConfig {
  const values: Record<string, string> = {
    natsUrl,
    opsPort: "0",
    tokenizer: "estimate",
    kvLookup: "false",
    scrapeIntervalMs: "0",
    logLevel: "warn",
    ...over,
  };
  return loadScorerConfig(
    [],
    Object.fromEntries(Object.entries(values).map(([k, v]) => [envName("scorer", k), v])),
  );
}

/**
 * kv-index as a child process (services never import each other): NATS URL, a free HTTP port and
 * warn-level logs, plus `env` (its INFERD_KV_INDEX_* keys without the prefix, e.g. INDEX_BACKEND).
 */
export async function startKvIndexProcess(
  natsUrl: string,
  env: Record<string, string>,
): Promise<ManagedProcess> {
  return startProcess({
    command: process.execPath,
    args: ["services/kv-index/src/main.ts"],
    env: {
      ...process.env,
      INFERD_KV_INDEX_NATS_URL: natsUrl,
      INFERD_KV_INDEX_HTTP_PORT: String(await freePort()),
      INFERD_KV_INDEX_LOG_LEVEL: "warn",
      ...Object.fromEntries(Object.entries(env).map(([k, v]) => [`INFERD_KV_INDEX_${k}`, v])),
    },
    cwd: new URL("../../../../", import.meta.url).pathname,
  });
}

/** One model-sim server as a child process on a free port, up (GET /health) before it returns. */
export async function startModelSimProcess(
  args: string[],
): Promise<{ sim: ManagedProcess; address: string }> {
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  const sim = startProcess({
    command: process.execPath,
    args: ["services/model-sim/src/main.ts", "--port", String(port), ...args],
    env: { ...process.env, INFERD_LOG_LEVEL: "warn" },
    cwd: new URL("../../../../", import.meta.url).pathname,
  });
  await waitFor(
    () =>
      fetch(`${address}/health`).then(
        (r) => r.ok,
        () => false,
      ),
    {
      timeoutMs: 60_000, // start-up only; a loaded 2-core machine can take long
      message: `model-sim up (${sim.output().slice(-300)})`,
    },
  ).catch(async (err) => {
    await sim.stop();
    throw err;
  });
  return { sim, address };
}
