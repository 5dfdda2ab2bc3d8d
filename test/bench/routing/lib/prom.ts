/**
 * Minimal Prometheus text-format reader: the sum over all label sets of each sample name.
 * Enough for the vLLM counters the benchmark reads (one model per server).
 */
export function sumSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    // name{labels} value [timestamp]   (label values may hold spaces and braces inside quotes)
    let nameEnd = line.search(/[{\s]/);
    if (nameEnd < 0) continue;
    const name = line.slice(0, nameEnd);
    if (line[nameEnd] === "{") {
      let inQuote = false;
      let i = nameEnd + 1;
      for (; i < line.length; i++) {
        const ch = line[i];
        if (ch === "\\" && inQuote) i++;
        else if (ch === '"') inQuote = !inQuote;
        else if (ch === "}" && !inQuote) break;
      }
      nameEnd = i + 1;
    }
    const fields = line.slice(nameEnd).trim().split(/\s+/);
    const value = parseSampleValue(fields[0] ?? "");
    if (value === null) continue;
    out.set(name, (out.get(name) ?? 0) + value);
  }
  return out;
}

function parseSampleValue(s: string): number | null {
  if (s === "NaN") return Number.NaN;
  if (s === "+Inf" || s === "Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  if (s === "") return null;
  const n = Number(s);
  return Number.isNaN(n) ? null : n;
}

/** First of several names present (vLLM renamed metrics across versions). */
export function pick(samples: ReadonlyMap<string, number>, ...names: string[]): number | null {
  for (const n of names) {
    const v = samples.get(n);
    if (v !== undefined) return v;
  }
  return null;
}
