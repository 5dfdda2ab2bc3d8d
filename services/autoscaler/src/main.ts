// Autoscaler entry point: wiring only (config -> validate or run -> shutdown).
import { ConfigError, describeConfig, onShutdown } from "@inferd/service-kit";
import { AUTOSCALER_CONFIG, loadAutoscalerConfig } from "./config.ts";
import { formatPolicies } from "./policy/pool-policy.ts";
import { runAutoscaler } from "./run.ts";

const argv = process.argv.slice(2);

if (argv.includes("--help")) {
  process.stdout.write(
    `inferd autoscaler [--config FILE] [--validate]\n\n${describeConfig("autoscaler", AUTOSCALER_CONFIG)}\n`,
  );
  process.exit(0);
}

let config: ReturnType<typeof loadAutoscalerConfig>;
try {
  config = loadAutoscalerConfig(argv);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`autoscaler: ${err.message}\n`);
  process.exit(argv.includes("--validate") ? 1 : 2);
}

if (argv.includes("--validate")) {
  process.stdout.write(`# effective autoscaler policy (defaults < --config < INFERD_AUTOSCALER_*)\n`);
  process.stdout.write(formatPolicies(config.pools));
  process.exit(0);
}

const running = await runAutoscaler(config);
onShutdown(running.logger, [{ name: "autoscaler", run: () => running.stop() }]);
