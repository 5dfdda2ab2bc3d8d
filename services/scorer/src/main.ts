// Scorer entry point: wiring only (config -> validate or run -> shutdown).
import { configFileFromArgv, onShutdown } from "@inferd/service-kit";
import { loadScorerConfig } from "./config.ts";
import { validatePolicy } from "./core.ts";
import { runScorer } from "./run.ts";
import { validateConfigFile } from "./validate.ts";

const argv = process.argv.slice(2);

if (argv.includes("--validate")) {
  const file = configFileFromArgv(argv);
  const result = file
    ? await validateConfigFile(file)
    : validatePolicy({ kind: "builtin", name: loadScorerConfig(argv).profile });
  (result.ok ? process.stdout : process.stderr).write(result.text);
  process.exit(result.ok ? 0 : 1);
}

const config = loadScorerConfig(argv);
const scorer = await runScorer(config);
onShutdown(scorer.logger, [{ name: "scorer", run: () => scorer.stop() }]);
