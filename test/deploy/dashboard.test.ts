import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./helm.ts";

interface Panel {
  title: string;
  targets: { expr: string }[];
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "test") return [];
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Metric names the services register (prom-client `name:` fields), with histogram series. */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const file of sources(join(REPO, "services"))) {
    for (const m of readFileSync(file, "utf8").matchAll(/name: "([a-z_:]+)"/g)) {
      for (const suffix of ["", "_bucket", "_sum", "_count"]) names.add(m[1]! + suffix);
    }
  }
  return names;
}

describe("deploy - Grafana dashboard", () => {
  const dashboard = JSON.parse(readFileSync(join(REPO, "deploy/dashboards/inferd.json"), "utf8")) as {
    panels: Panel[];
  };

  it("has the panels an operator looks at first", () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const wanted of [
      "Routing decisions by outcome",
      "Prefix-cache hit rate",
      "TTFT",
      "ITL",
      "Queues",
      "Replicas",
    ])
      expect(titles).toContain(wanted);
  });

  it("queries only metrics inferd's services or vLLM export", () => {
    const defined = definedMetrics();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const metrics = [...target.expr.matchAll(/\b((?:inferd|wva)_[a-z_]+|vllm:[a-z_]+)\b/g)].map(
          (m) => m[1]!,
        );
        expect(metrics.length, panel.title).toBeGreaterThan(0);
        for (const metric of metrics) {
          if (metric.startsWith("vllm:")) continue;
          expect(defined, `${panel.title}: ${metric}`).toContain(metric);
        }
      }
    }
  });
});
