import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { Logger } from "@inferd/service-kit";
import { type ApiKeys, parseApiKeyFile } from "../domain/api-keys.ts";

/**
 * Loads the API-key file into `keys` and reloads it whenever it changes (polled, so a
 * Kubernetes Secret volume's atomic symlink swap is seen too). A file that cannot be read or
 * parsed at start stops the gateway; later, the previous keys stay in force and the error is
 * logged. Returns the stop function.
 */
export function followApiKeyFile(path: string, keys: ApiKeys, logger: Logger, intervalMs = 2000): () => void {
  const load = () => {
    const parsed = parseApiKeyFile(readFileSync(path, "utf8"));
    keys.setFileKeys(parsed);
    return [...parsed.values()].reduce((n, l) => n + l.length, 0);
  };
  logger.info({ path, keys: load() }, "API keys loaded");
  const onChange = () => {
    try {
      logger.info({ path, keys: load() }, "API keys reloaded");
    } catch (err) {
      logger.error({ path, err: (err as Error).message }, "API key file unreadable; previous keys kept");
    }
  };
  watchFile(path, { interval: intervalMs, persistent: false }, onChange);
  return () => unwatchFile(path, onChange);
}
