import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractMetrics, METRIC_ALIASES } from "../../src/state/metric-aliases.ts";
import { parsePromText, type Sample } from "../../src/state/prom-text.ts";

/**
 * The parser before its in-place name test (every line sliced and trimmed, then read): the plain model
 * the fast path must agree with on any text.
 */
function plainParse(text: string, wanted: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!wanted.has(name)) continue;
    let labels: Record<string, string> = {};
    let rest = line.slice(nameEnd).trim();
    if (line[nameEnd] === "{") {
      let close = -1;
      let inQuote = false;
      for (let i = nameEnd + 1; i < line.length && close < 0; i++) {
        const c = line[i];
        if (c === "\\" && inQuote) i++;
        else if (c === '"') inQuote = !inQuote;
        else if (c === "}" && !inQuote) close = i;
      }
      if (close < 0) continue;
      labels = {};
      const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
      const body = line.slice(nameEnd + 1, close);
      for (let m = re.exec(body); m !== null; m = re.exec(body))
        labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      rest = line.slice(close + 1).trim();
    }
    const v = rest.split(/\s+/)[0] ?? "";
    const value =
      v === "+Inf"
        ? Infinity
        : v === "-Inf"
          ? -Infinity
          : v === "NaN"
            ? Number.NaN
            : v.length
              ? Number(v)
              : Number.NaN;
    if (Number.isNaN(value) && v !== "NaN") continue;
    out.push({ name, labels, value });
  }
  return out;
}

const FIXTURE = readFileSync(new URL("../fixtures/metrics/model-sim.txt", import.meta.url), "utf8");
const WANTED = new Set<string>(Object.values(METRIC_ALIASES).flat());

describe("prometheus text - fast name test", () => {
  it("prom text - model-sim's page after traffic: the scorer's series read, histograms skipped", () => {
    const samples = parsePromText(FIXTURE, WANTED);
    expect(samples).toEqual(plainParse(FIXTURE, WANTED));
    expect(samples.map((s) => s.name).sort()).toEqual([
      "vllm:cache_config_info",
      "vllm:kv_cache_usage_perc",
      "vllm:num_requests_running",
      "vllm:num_requests_waiting",
    ]);
    const m = extractMetrics(FIXTURE, 7);
    expect(m).toMatchObject({ waiting: 0, running: 0, blockSize: 16, scrapedAtMs: 7 });
    expect(m.kvUsage).toBeGreaterThanOrEqual(0);
    expect(m.numGpuBlocks).toBeGreaterThan(0);
  });

  it("prom text - same samples as the plain line-by-line parser on any text (property)", () => {
    const names = [
      "a",
      "ab",
      "a_bucket",
      "vllm:num_requests_waiting",
      "vllm:num_requests_waiting_by_reason",
      "b{",
    ];
    const wanted = new Set(["a", "ab", "vllm:num_requests_waiting"]);
    const piece = fc.oneof(
      fc.constantFrom(...names),
      fc.constantFrom(" ", "  ", "\t", "\r", "\u00a0", "\u2028", "\n", "#", "{", "}", '"', "\\", ",", "="),
      fc.constantFrom(
        '{x="1"}',
        '{le="+Inf",y="a\\"b"}',
        "{}",
        " 1",
        " 2.5",
        " NaN",
        " +Inf",
        " -1e3",
        " 17 1700000000",
      ),
      fc.string({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        expect(parsePromText(text, wanted)).toEqual(plainParse(text, wanted));
      }),
      { numRuns: 3000 },
    );
  });
});
