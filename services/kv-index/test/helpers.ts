import { Writable } from "node:stream";
import { createLogger, type Logger } from "@inferd/service-kit";
import { Registry } from "prom-client";
import { KvIndexMetrics } from "../src/metrics.ts";

/** A logger whose JSON lines are kept in `lines`, and fresh metrics on their own registry. */
export function testObservers(): {
  logger: Logger;
  lines: Record<string, unknown>[];
  metrics: KvIndexMetrics;
  registry: Registry;
} {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  const registry = new Registry();
  return {
    logger: createLogger({ service: "kv-index-test", level: "debug", destination }),
    lines,
    metrics: new KvIndexMetrics(registry),
    registry,
  };
}

/** Current value of a counter/gauge (sum over label sets matching `labels`). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .filter((v) => !("metricName" in v) || v.metricName === name || v.metricName === undefined)
    .reduce((sum, v) => sum + v.value, 0);
}
