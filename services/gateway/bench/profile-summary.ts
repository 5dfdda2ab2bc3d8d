/**
 * Sums the self time of a V8 .cpuprofile (from `node --cpu-prof`) per function and per file, to
 * see where a benchmark's CPU goes. Prints the top rows of each, with their share of the samples.
 *
 *   node services/gateway/bench/profile-summary.ts <file.cpuprofile> [--top 40]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "40" } },
});
const file = positionals[0];
if (file === undefined) throw new Error("usage: profile-summary.ts <file.cpuprofile> [--top N]");
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

// A sample's time is the delta to the next sample (V8 records the delta before each sample).
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const us = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(profile.samples[i]!);
  if (node === undefined) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = shortUrl(url);
  const fn = `${functionName || "(anonymous)"} ${where}:${lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  byFile.set(where, (byFile.get(where) ?? 0) + us);
  total += us;
}

function shortUrl(url: string): string {
  if (url === "") return "(native)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length).replace(/^\.pnpm\/[^/]+\/node_modules\//, "");
  const src = url.search(/\/(services|packages)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, "");
}

function print(title: string, rows: Map<string, number>): void {
  process.stdout.write(`\n${title} (total ${(total / 1000).toFixed(0)} ms of samples)\n`);
  const sorted = [...rows].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, us] of sorted) {
    process.stdout.write(
      `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}\n`,
    );
  }
}

print("self time per function", byFunction);
print("self time per file", byFile);
