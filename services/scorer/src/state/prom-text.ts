/**
 * Minimal Prometheus text-format reader for the few model-server metrics the scorer needs. Only lines
 * whose metric name is wanted are parsed, so a large /metrics page with histograms stays cheap.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parsePromText(text: string, wanted: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end).trim();
    pos = end + 1;
    if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!wanted.has(name)) continue;
    let labels: Record<string, string> = {};
    let rest: string;
    if (line[nameEnd] === "{") {
      const close = findClose(line, nameEnd + 1);
      if (close < 0) continue;
      labels = parseLabels(line.slice(nameEnd + 1, close));
      rest = line.slice(close + 1).trim();
    } else {
      rest = line.slice(nameEnd).trim();
    }
    const valueText = rest.split(/\s+/)[0] ?? "";
    const value = parseValue(valueText);
    if (value === undefined) continue;
    out.push({ name, labels, value });
  }
  return out;
}

function parseValue(s: string): number | undefined {
  if (s === "+Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  if (s === "NaN") return Number.NaN;
  const v = Number(s);
  return s.length > 0 && !Number.isNaN(v) ? v : undefined;
}

function findClose(line: string, from: number): number {
  let inQuote = false;
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && inQuote) i++;
    else if (c === '"') inQuote = !inQuote;
    else if (c === "}" && !inQuote) return i;
  }
  return -1;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
  let m: RegExpExecArray | null = re.exec(s);
  while (m !== null) {
    out[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    m = re.exec(s);
  }
  return out;
}
