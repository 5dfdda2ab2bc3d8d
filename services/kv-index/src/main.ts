import { ConfigError, createLogger, loadConfig, onShutdown } from "@inferd/service-kit";
import { KV_INDEX_CONFIG } from "./config.ts";
import { startKvIndex } from "./service.ts";

// Wiring only: config -> logger -> links and parts (startKvIndex) -> shutdown.
const warnings: string[] = [];
let config: ReturnType<typeof loadConfig<typeof KV_INDEX_CONFIG>>;
try {
  config = loadConfig("kv-index", KV_INDEX_CONFIG, {
    argv: process.argv.slice(2),
    onWarning: (w) => warnings.push(w),
  });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
const logger = createLogger({ service: "kv-index", level: config.logLevel });
for (const w of warnings) logger.warn(w);
const running = await startKvIndex(config, logger);
onShutdown(logger, [{ name: "kv-index", run: () => running.stop() }], { deadlineMs: 15_000 });
