import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

// One runner for the whole repository: every package, every service and the cross-service tests
// in test/. Each workspace folder is a project named after its package; all share these options.
const folders = ["packages", "services"].flatMap((group) =>
  readdirSync(join(import.meta.dirname, group)).map((name) => join(group, name)),
);
const projects = [...folders, "test"]
  .filter((dir) => existsSync(join(import.meta.dirname, dir, "package.json")))
  .map((dir) => ({
    extends: true as const,
    test: {
      name: JSON.parse(readFileSync(join(import.meta.dirname, dir, "package.json"), "utf8")).name as string,
      root: dir,
      include: [
        "test/**/*.test.ts",
        "e2e/**/*.test.ts",
        "bench/**/*.test.ts",
        "contract/**/*.test.ts",
        "deploy/**/*.test.ts",
      ],
    },
  }));

export default defineConfig({
  test: {
    projects,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
