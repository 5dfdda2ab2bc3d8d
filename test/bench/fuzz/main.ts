#!/usr/bin/env node
/**
 * `inferd bench fuzz [--scale N] [--seed S]`: the long form of the fuzz suites. Runs the same
 * test files `pnpm test` runs in short form, with every input count multiplied by N (default 10:
 * 100k ZeroMQ messages, 10.5k HTTP requests, 3k NATS requests per service subject, ...), and a
 * chosen fast-check seed for a fresh sample. Wiring only: the suites are vitest files.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";

const ROOT = join(import.meta.dirname, "../../..");
export const FUZZ_SUITES = [
  "services/kv-index/test/fuzz",
  "services/gateway/test/fuzz",
  "services/scorer/test/fuzz",
  "test/e2e/nats-fuzz.test.ts",
];

const { values } = parseArgs({
  options: {
    scale: { type: "string", default: "10" },
    seed: { type: "string", default: String(Date.now() % 100_000) },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "inferd bench fuzz [--scale N] [--seed S]   long-form fuzz suites (inputs x N, fresh seed)\n",
  );
  process.exit(0);
}
const scale = Number(values.scale);
if (!Number.isFinite(scale) || scale <= 0) {
  process.stderr.write(`--scale: must be a positive number, got "${values.scale}"\n`);
  process.exit(2);
}
process.stdout.write(`fuzz: scale ${scale}, seed ${values.seed}\n`);
const started = performance.now();
const child = spawn(
  process.execPath,
  [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", ...FUZZ_SUITES, "--testTimeout", "3600000"],
  {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, INFERD_FUZZ_SCALE: String(scale), INFERD_FUZZ_SEED: values.seed },
  },
);
child.once("exit", (code) => {
  process.stdout.write(
    `fuzz: ${code === 0 ? "no failure" : "FAILED"} in ${((performance.now() - started) / 1000).toFixed(0)} s (scale ${scale}, seed ${values.seed})\n`,
  );
  process.exit(code ?? 1);
});
