import type { Logger } from "pino";

export interface ShutdownStep {
  name: string;
  run(): Promise<void> | void;
}

export interface ShutdownOptions {
  /** Total time for all steps before the process exits anyway (default 10 s). */
  deadlineMs?: number;
  signals?: readonly NodeJS.Signals[];
  /** Called instead of process.exit (tests). */
  exit?: (code: number) => void;
}

/**
 * Runs `steps` in order on SIGTERM/SIGINT: first drain in-flight work, then close links.
 * A step that throws is logged and the next one still runs; past the deadline the process exits 1.
 * Returns a function that triggers the same shutdown programmatically.
 */
export function onShutdown(
  logger: Logger,
  steps: readonly ShutdownStep[],
  options: ShutdownOptions = {},
): () => Promise<void> {
  const deadlineMs = options.deadlineMs ?? 10_000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    running ??= (async () => {
      logger.info({ reason, deadlineMs }, "shutting down");
      const timer = setTimeout(() => {
        logger.error({ deadlineMs }, "shutdown deadline passed; exiting");
        exit(1);
      }, deadlineMs);
      timer.unref();
      let failed = false;
      for (const step of steps) {
        try {
          await step.run();
          logger.debug({ step: step.name }, "shutdown step done");
        } catch (err) {
          failed = true;
          logger.error({ step: step.name, err }, "shutdown step failed");
        }
      }
      clearTimeout(timer);
      logger.info("shutdown complete");
      exit(failed ? 1 : 0);
    })();
    return running;
  };
  for (const signal of options.signals ?? ["SIGTERM", "SIGINT"])
    process.once(signal, () => void shutdown(signal));
  return () => shutdown("requested");
}
