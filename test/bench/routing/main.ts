#!/usr/bin/env node
/**
 * `inferd bench routing` entry point (the CLI spawns `node test/bench/routing/main.ts <args>`).
 * Wiring only: parse flags -> run every policy on one trace -> print the table -> write JSON/HTML.
 */
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Progress } from "./driver/progress.ts";
import { runBenchmark } from "./driver/run.ts";
import { REPO_ROOT } from "./driver/stack.ts";
import { ArgsError, HELP, parseBenchArgs } from "./lib/args.ts";
import { renderHtml, renderSeedsHtml } from "./lib/report/html.ts";
import { renderJson } from "./lib/report/json.ts";
import { type MatrixDoc, matrixTable } from "./lib/report/matrix.ts";
import { mergeRuns } from "./lib/report/merge.ts";
import { summarizeRuns } from "./lib/report/model.ts";
import { renderSeedsJson, type SeedRun, seedSpread, spreadTable } from "./lib/report/seeds.ts";
import { renderTerminalReport } from "./lib/report/table.ts";

function writeOut(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** --merge: one report from several --json files (later files replace earlier ones per policy). */
function mergeMain(files: readonly string[], jsonPath: string | null, reportPath: string | null): number {
  const { meta, runs } = mergeRuns(files.map((f) => JSON.parse(readFileSync(f, "utf8"))));
  const summaries = summarizeRuns(runs, meta.options);
  const text = renderTerminalReport(meta, summaries);
  process.stdout.write(text);
  if (jsonPath) writeOut(jsonPath, renderJson(meta, summaries));
  if (reportPath) writeOut(reportPath, renderHtml(meta, summaries, text));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs(argv, (p) => readFileSync(p, "utf8"));
  } catch (err) {
    if (err instanceof ArgsError) {
      process.stderr.write(`inferd bench routing: ${err.message}\n\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const o = parsed.options;
  if (parsed.matrix.length > 0) {
    const docs = parsed.matrix.map(({ label, path }) => ({
      label,
      doc: JSON.parse(readFileSync(path, "utf8")) as MatrixDoc,
    }));
    process.stdout.write(`${matrixTable(docs)}\n`);
    return 0;
  }
  if (parsed.merge.length > 0) {
    try {
      return mergeMain(parsed.merge, o.jsonPath, o.reportPath);
    } catch (err) {
      process.stderr.write(`inferd bench routing --merge: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const progress = new Progress(process.stderr);
  for (const w of parsed.warnings) progress.line(`warning: ${w}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const outDir = join(REPO_ROOT, "bench-results");
  const reportPath = o.reportPath ?? join(outDir, `routing-${stamp}.html`);
  const logPath = join(dirname(reportPath), `routing-${stamp}.stack.log`);
  mkdirSync(dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath);
  progress.line(`stack output -> ${logPath}`);
  let code = 0;
  // Ctrl-C: stop the running stage, tear the stack down (it also gets the SIGINT from the terminal),
  // write what was measured. A second Ctrl-C exits at once.
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupt.signal.aborted) process.exit(130);
    progress.line(`${sig}: stopping after tearing down the current stack (again to quit at once)`);
    interrupt.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const seeds = o.seeds ?? [o.seed];
  const multi = seeds.length > 1;
  // One --json per seed beside the main one (each readable by --merge); the main one holds the spread.
  const seedJson = (seed: number) =>
    o.jsonPath === null ? null : multi ? o.jsonPath.replace(/(\.json)?$/, `.seed${seed}.json`) : o.jsonPath;
  try {
    const done: (SeedRun & { text: string })[] = [];
    for (const seed of seeds) {
      if (interrupt.signal.aborted) break;
      if (multi) progress.line(`=== seed ${seed} (${seeds.indexOf(seed) + 1} of ${seeds.length}) ===`);
      const json = seedJson(seed);
      const { meta, summaries } = await runBenchmark(
        { ...o, seed },
        {
          progress,
          signal: interrupt.signal,
          stackLog: (policy, line) => log.write(`[${multi ? `seed ${seed} ` : ""}${policy}] ${line}\n`),
          inferencePerfDir: join(
            dirname(reportPath),
            `routing-${stamp}.inference-perf`,
            multi ? `seed${seed}` : "",
          ),
          onPolicyDone: (partial) => {
            if (json) writeOut(json, renderJson(partial.meta, partial.summaries));
          },
        },
      );
      const text = renderTerminalReport(meta, summaries);
      progress.line("");
      process.stdout.write(text);
      if (json) {
        writeOut(json, renderJson(meta, summaries));
        progress.line(`JSON -> ${json}`);
      }
      if (!multi) {
        writeOut(reportPath, renderHtml(meta, summaries, text));
        progress.line(`report -> ${reportPath}`);
      }
      done.push({ seed, meta, summaries, text });
      if (summaries.some((s) => s.run.error !== null)) code = 1;
    }
    if (multi && done.length > 0) {
      const spreadText = spreadTable(
        seedSpread(done),
        done.map((d) => d.seed),
      );
      process.stdout.write(`\n${spreadText}\n`);
      if (o.jsonPath) {
        const perSeed = done.map((d) => ({ seed: d.seed, ...JSON.parse(renderJson(d.meta, d.summaries)) }));
        writeOut(o.jsonPath, renderSeedsJson(done, perSeed));
        progress.line(`JSON (spread) -> ${o.jsonPath}`);
      }
      writeOut(reportPath, renderSeedsHtml(spreadText, done));
      progress.line(`report -> ${reportPath}`);
    }
  } catch (err) {
    progress.line(`inferd bench routing: ${(err as Error).message}`);
    code = 1;
  } finally {
    await new Promise<void>((r) => log.end(r));
  }
  return code;
}

process.exit(await main(process.argv.slice(2)));
