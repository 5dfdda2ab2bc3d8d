/**
 * Minimal Prometheus text-format reader: calls `each` for every sample line with its name, the
 * label block as written (`{...}` with the braces, "" when there is none) and its value; comments,
 * blank lines and lines without a readable value are skipped.
 */
export function forEachSample(
  text: string,
  each: (name: string, labels: string, value: number) => void,
): void {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    // name{labels} value [timestamp]   (label values may hold spaces and braces inside quotes)
    const nameEnd = line.search(/[{\s]/);
    if (nameEnd < 0) continue;
    let labelsEnd = nameEnd;
    if (line[nameEnd] === "{") {
      let inQuote = false;
      let i = nameEnd + 1;
      for (; i < line.length; i++) {
        const ch = line[i];
        if (ch === "\\" && inQuote) i++;
        else if (ch === '"') inQuote = !inQuote;
        else if (ch === "}" && !inQuote) break;
      }
      labelsEnd = i + 1;
    }
    const fields = line.slice(labelsEnd).trim().split(/\s+/);
    const value = parseSampleValue(fields[0] ?? "");
    if (value === null) continue;
    each(line.slice(0, nameEnd), line.slice(nameEnd, labelsEnd), value);
  }
}

/** The sum over all label sets of each sample name (enough for the vLLM counters the bench reads). */
export function sumSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  forEachSample(text, (name, _labels, value) => out.set(name, (out.get(name) ?? 0) + value));
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
