import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The repository root (the folder holding pnpm-workspace.yaml), found from this file. */
export function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "pnpm-workspace.yaml"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the inferd repository root (pnpm-workspace.yaml)");
    dir = parent;
  }
  return dir;
}

/** The entry file of a service (`services/<name>/src/main.ts`), or undefined when it does not exist yet. */
export function serviceEntry(name: string): string | undefined {
  const file = join(repoRoot(), "services", name, "src", "main.ts");
  return existsSync(file) ? file : undefined;
}
