export interface WaitForOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Time between checks (default 25 ms). */
  intervalMs?: number;
  /** Said in the error when the deadline passes (a function is called then: e.g. a process's latest output). */
  message?: string | (() => string);
}

/**
 * Waits until `condition` returns a truthy value (or a promise of one) and returns it.
 * Exceptions thrown by the condition count as "not yet"; the last one is reported on timeout.
 * This is how tests synchronise: on a condition with a deadline, never on a fixed sleep.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      const what = typeof options.message === "function" ? options.message() : options.message;
      throw new Error(`waitFor: ${what ?? "condition not met"} within ${timeoutMs} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
