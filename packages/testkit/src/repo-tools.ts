import { existsSync } from "node:fs";
import { join } from "node:path";

/** The repository's own tool folder, where ./dev.sh builds the Go tools the tests use. */
export const REPO_TOOLS_BIN = join(import.meta.dirname, "../../../.tools/bin");

/**
 * The path of a tool ./dev.sh builds into .tools/bin (e.g. the `nats` CLI); throws with the
 * command that builds it when it is missing, so a test never passes without it.
 */
export function repoTool(name: string): string {
  const path = join(REPO_TOOLS_BIN, name);
  if (!existsSync(path))
    throw new Error(`${path} is missing: ./dev.sh setup builds it (scripts/go-tools.sh ${name}; needs Go)`);
  return path;
}
