/**
 * Minimal Prometheus text-format reader for the few model-server metrics the scorer needs. Only lines
 * whose metric name is wanted are parsed, so a large /metrics page with histograms stays cheap.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * Wanted names grouped by first character, then by length, so that a line whose name is not wanted is
 * skipped by reading a few characters in place: a /metrics page is mostly histogram buckets the scorer
 * never reads, and slicing each of those lines into strings was most of a scrape's parse (model-sim's
 * page: 352 lines, 4 wanted).
 */
interface NameGroup {
  /** Distinct lengths of the group's names. */
  readonly lengths: readonly number[];
  /** The group's names by length. */
  readonly names: readonly (readonly string[] | undefined)[];
}

/** Groups by first character code (names starting with a non-ASCII character are read the slow way). */
type NameIndex = readonly (NameGroup | undefined)[];

function indexNames(wanted: ReadonlySet<string>): NameIndex {
  const out: { lengths: number[]; names: (string[] | undefined)[] }[] = [];
  for (const name of wanted) {
    const c = name.charCodeAt(0);
    if (!(c < 128)) continue;
    const group = out[c] ?? { lengths: [], names: [] };
    const same = group.names[name.length] ?? [];
    same.push(name);
    group.names[name.length] = same;
    if (!group.lengths.includes(name.length)) group.lengths.push(name.length);
    out[c] = group;
  }
  return out;
}

const INDEXES = new WeakMap<ReadonlySet<string>, NameIndex>();

/**
 * Whether the line from `s` (first non-space, an ASCII character) to `end` starts with a wanted name
 * followed by `{` or a space: one character read per wanted length, then a compare in place.
 */
function startsWanted(text: string, s: number, end: number, index: NameIndex): boolean {
  const group = index[text.charCodeAt(s)];
  if (group === undefined) return false;
  for (const len of group.lengths) {
    const at = s + len;
    if (at >= end) continue;
    const c = text.charCodeAt(at);
    if (c !== 123 /* { */ && c !== 32) continue;
    for (const name of group.names[len]!) if (text.startsWith(name, s)) return true;
  }
  return false;
}

function isAsciiSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

export function parsePromText(text: string, wanted: ReadonlySet<string>): Sample[] {
  let index = INDEXES.get(wanted);
  if (!index) {
    index = indexNames(wanted);
    INDEXES.set(wanted, index);
  }
  const out: Sample[] = [];
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    const from = pos;
    pos = end + 1;
    // Cheap test first: the name as parseLine would read it. A line it might take goes to parseLine
    // whole, so what is parsed is unchanged; a non-ASCII first character (Unicode space that trim()
    // strips) takes the full path too.
    let s = from;
    while (s < end && isAsciiSpace(text.charCodeAt(s))) s++;
    if (s === end) continue;
    const c0 = text.charCodeAt(s);
    if (c0 === 35 /* # */) continue;
    if (c0 < 128 && !startsWanted(text, s, end, index)) continue;
    const sample = parseLine(text.slice(from, end).trim(), wanted);
    if (sample) out.push(sample);
  }
  return out;
}

/** One trimmed line: its sample if its metric is wanted and it parses. */
function parseLine(line: string, wanted: ReadonlySet<string>): Sample | undefined {
  if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) return undefined;
  const brace = line.indexOf("{");
  const space = line.indexOf(" ");
  const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
  if (nameEnd <= 0) return undefined;
  const name = line.slice(0, nameEnd);
  if (!wanted.has(name)) return undefined;
  let labels: Readonly<Record<string, string>> = {};
  let rest: string;
  if (line[nameEnd] === "{") {
    const close = findClose(line, nameEnd + 1);
    if (close < 0) return undefined;
    labels = cachedLabels(line.slice(nameEnd + 1, close));
    rest = line.slice(close + 1).trim();
  } else {
    rest = line.slice(nameEnd).trim();
  }
  const valueText = rest.split(/\s+/)[0] ?? "";
  const value = parseValue(valueText);
  if (value === undefined) return undefined;
  return { name, labels, value };
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

/**
 * Label sets seen before, by their text: a server's label sets barely change between scrapes (engine,
 * model, cache config), and reading vLLM's ~20 cache_config_info labels was a third of a page's parse.
 * The samples share the (read-only) objects. Bounded: cleared when full.
 */
const LABELS = new Map<string, Readonly<Record<string, string>>>();
const LABELS_MAX = 1024;

function cachedLabels(text: string): Readonly<Record<string, string>> {
  let labels = LABELS.get(text);
  if (labels === undefined) {
    if (LABELS.size >= LABELS_MAX) LABELS.clear();
    labels = Object.freeze(parseLabels(text));
    LABELS.set(text, labels);
  }
  return labels;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
  let m: RegExpExecArray | null = re.exec(s);
  while (m !== null) {
    const raw = m[2]!;
    // Unescape only what has escapes (vLLM's cache_config_info has ~20 labels, none escaped).
    out[m[1]!] = raw.includes("\\")
      ? raw.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\")
      : raw;
    m = re.exec(s);
  }
  return out;
}
