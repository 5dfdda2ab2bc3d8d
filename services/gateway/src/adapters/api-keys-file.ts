import { readFileSync, statSync } from "node:fs";
import type { Logger } from "@inferd/service-kit";
import { type ApiKeys, parseApiKeyFile } from "../domain/api-keys.ts";

/**
 * Loads the API-key file into `keys` and reloads it whenever it changes: polled every
 * `intervalMs` by comparing inode, size and modification time with those of the version last
 * read, so a Kubernetes Secret volume's atomic symlink swap is seen too. A file that cannot be
 * read or parsed at start stops the gateway; later, the previous keys stay in force and the
 * error is logged once per version. Returns the stop function.
 */
export function followApiKeyFile(path: string, keys: ApiKeys, logger: Logger, intervalMs = 2000): () => void {
  const versionOf = () => {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  };
  let seen = "";
  const load = () => {
    const version = versionOf();
    seen = version;
    const parsed = parseApiKeyFile(readFileSync(path, "utf8"));
    keys.setFileKeys(parsed);
    return [...parsed.values()].reduce((n, l) => n + l.length, 0);
  };
  logger.info({ path, keys: load() }, "API keys loaded");
  const timer = setInterval(() => {
    try {
      if (versionOf() === seen) return;
      logger.info({ path, keys: load() }, "API keys reloaded");
    } catch (err) {
      logger.error({ path, err: (err as Error).message }, "API key file unreadable; previous keys kept");
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
