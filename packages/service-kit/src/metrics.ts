import { collectDefaultMetrics, Registry } from "prom-client";

/** A prom-client registry with process metrics, labelled with the service name. */
export function createMetricsRegistry(service: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "inferd_" });
  return registry;
}
