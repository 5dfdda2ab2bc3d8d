import type { Registry } from "prom-client";

/** Sample-name suffixes a family of these types exposes besides its own name. */
const SAMPLE_SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created", "_info"];

/**
 * The `/metrics?name[]=a&name[]=b` filter of prometheus_client (what vLLM's and SGLang's /metrics
 * serve): only samples whose name is listed, each family with its HELP and TYPE lines, families
 * without a listed sample left out, unknown names ignored. Only the families that can match are
 * rendered, so a scraper asking for four gauges costs the server four gauges, not the whole page.
 */
export async function renderFiltered(registry: Registry, names: readonly string[]): Promise<string> {
  const wanted = new Set(names);
  const parts: string[] = [];
  for (const metric of registry.getMetricsAsArray()) {
    const family = (metric as { name: string }).name;
    if (!wanted.has(family) && !SAMPLE_SUFFIXES.some((s) => wanted.has(family + s))) continue;
    const text = await registry.getSingleMetricAsString(family);
    const lines = text.split("\n");
    const samples = lines.filter((l) => l !== "" && !l.startsWith("#") && wanted.has(sampleName(l)));
    if (samples.length === 0) continue;
    parts.push(...lines.filter((l) => l.startsWith("#")), ...samples);
  }
  return parts.length === 0 ? "" : `${parts.join("\n")}\n`;
}

function sampleName(line: string): string {
  const end = line.search(/[{ ]/);
  return end < 0 ? line : line.slice(0, end);
}

/** The `name[]` values of a query (fastify parses a repeated key into an array). */
export function queryNames(query: unknown): string[] | null {
  const raw = (query as Record<string, unknown> | undefined)?.["name[]"];
  if (raw === undefined) return null;
  return (Array.isArray(raw) ? raw : [raw]).map(String);
}
