import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, envName, type Logger } from "@inferd/service-kit";
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
