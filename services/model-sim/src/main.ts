#!/usr/bin/env node
import { resolveNoneHashSeed, vllmRules } from "@inferd/kv-blocks";

import { createLogger, onShutdown } from "@inferd/service-kit";
import { parseSimArgs, SIM_HELP, SimArgsError } from "./config.ts";
import { startFleet } from "./fleet.ts";

// Wiring only: flags -> logger -> fleet of simulated servers -> shutdown.
const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(`${SIM_HELP}\n`);
  process.exit(0);
}
let options: ReturnType<typeof parseSimArgs>;
try {
  options = parseSimArgs(argv);
} catch (err) {
  if (!(err instanceof SimArgsError)) throw err;
  process.stderr.write(`model-sim: ${err.message}\n`);
  process.exit(2);
}
const logger = createLogger({ service: "model-sim", level: options.logLevel });
if (
  resolveNoneHashSeed(
    options.prefixCachingHashAlgo,
    options.pythonHashSeed,
    vllmRules(options.vllmVersion),
  ) === null
) {
  logger.warn(
    `PYTHONHASHSEED is not set: with ${options.prefixCachingHashAlgo} (vLLM ${options.vllmVersion}) block hashes use a random NONE_HASH and cannot be reproduced elsewhere`,
  );
}
const fleet = await startFleet({
  ...options,
  logger,
  // A single server that crashes ends the process, as a crashed vLLM would; fleets keep the others.
  onCrash: () => {
    if (options.fleet === 1) {
      logger.error("simulated crash: exiting");
      process.exit(1);
    }
  },
});
for (const s of fleet.servers) {
  logger.info(
    {
      pod: s.podName,
      url: s.url,
      kvEvents: s.kvEventsEndpoint,
      replay: s.kvReplayEndpoint,
      topic: s.kvEventsTopic,
    },
    "serving",
  );
}
onShutdown(logger, [{ name: "model-sim", run: () => fleet.close() }]);
