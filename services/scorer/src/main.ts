// Scorer entry point: wiring only (config -> validate or run -> shutdown).
import { configFileFromArgv, onShutdown, ConfigError as ServiceConfigError } from "@inferd/service-kit";
import { loadScorerConfig } from "./config.ts";
import { validatePolicy } from "./core.ts";
import { ConfigError } from "./framework/errors.ts";
import { type RunningScorer, runScorer } from "./run.ts";
import { validateConfigFile } from "./validate.ts";

const argv = process.argv.slice(2);

function fail(err: unknown): never {
  if (err instanceof ConfigError || err instanceof ServiceConfigError) {
    process.stderr.write(`scorer: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

if (argv.includes("--validate")) {
  const file = configFileFromArgv(argv);
  let result: { ok: boolean; text: string };
  try {
    result = file
      ? await validateConfigFile(file)
      : validatePolicy({ kind: "builtin", name: loadScorerConfig(argv).profile });
  } catch (err) {
    fail(err);
  }
  (result.ok ? process.stdout : process.stderr).write(result.text);
  process.exit(result.ok ? 0 : 1);
}

let scorer: RunningScorer;
try {
  scorer = await runScorer(loadScorerConfig(argv));
} catch (err) {
  fail(err);
}
onShutdown(scorer.logger, [{ name: "scorer", run: () => scorer.stop() }]);
