import { defineConfig } from "vitest/config";

// One runner for the whole repository: every package, service and the cross-service tests.
export default defineConfig({
  test: {
    projects: ["packages/*", "services/*", "test"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
