/**
 * Scrape cost: the scorer's CPU per scrape of one endpoint's /metrics (HTTP fetch, Prometheus text parse,
 * load-view update), and the parse alone. The page is model-sim's /metrics after traffic
 * (test/fixtures/metrics/model-sim.txt, 29 KB, 352 lines, histograms included), served by a child process
 * so that its CPU is not counted.
 *
 *   node services/scorer/bench/scrape-cost.ts [--endpoints 4] [--rounds 500] [--parses 20000]
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createLogger } from "@inferd/service-kit";
import { Scraper } from "../src/adapters/scraper.ts";
import { EndpointStore } from "../src/state/endpoints.ts";
import { InflightTracker } from "../src/state/inflight.ts";
import { LoadView } from "../src/state/load-view.ts";
import { extractMetrics } from "../src/state/metric-aliases.ts";

const { values } = parseArgs({
  options: {
    endpoints: { type: "string", default: "4" },
    rounds: { type: "string", default: "500" },
    parses: { type: "string", default: "20000" },
  },
});
const endpoints = Number(values.endpoints);
const rounds = Number(values.rounds);
const parses = Number(values.parses);
const fixture = new URL("../test/fixtures/metrics/model-sim.txt", import.meta.url);
const page = readFileSync(fixture, "utf8");

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

// Parse alone (same page every time: what extractMetrics costs, whatever the scraper skips).
for (let i = 0; i < 2000; i++) extractMetrics(page, i);
let c0 = process.cpuUsage();
for (let i = 0; i < parses; i++) extractMetrics(page, i);
const parseUs = (cpuMs(process.cpuUsage(c0)) * 1000) / parses;

// The server: a child process answering every /metrics with the fixture page.
const server = spawn(
  process.execPath,
  [
    "-e",
    [
      `const http=require("node:http");const fs=require("node:fs");`,
      `const page=fs.readFileSync(process.argv[1]);`,
      `const s=http.createServer((q,r)=>{r.writeHead(200,{"content-type":"text/plain; version=0.0.4"});r.end(page)});`,
      `s.keepAliveTimeout=60000;s.listen(0,"127.0.0.1",()=>console.log(s.address().port));`,
    ].join(""),
    fixture.pathname,
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const [chunk] = (await once(server.stdout, "data")) as [Buffer];
const port = Number(chunk.toString().trim());

const store = new EndpointStore();
const inflight = new InflightTracker({ speculativeTtlMs: 1000, maxAgeMs: 1000 });
const load = new LoadView(inflight, 2000);
for (let i = 0; i < endpoints; i++)
  store.upsert({
    model: "m",
    pod: `p${i}`,
    address: `http://127.0.0.1:${port}`,
    role: "both",
    loraAdapters: [],
    ready: true,
    labels: {},
    blockSize: 16,
    publishesKvEvents: true,
    maxLoras: 0,
  });
const scraper = new Scraper(store, load, inflight, {
  intervalMs: 100,
  timeoutMs: 5000,
  publish: null,
  logger: createLogger({ service: "bench", level: "silent" }),
  metrics: undefined,
});
for (let i = 0; i < 50; i++) await scraper.round();
if (load.lastMetrics("p0")?.running === undefined) throw new Error("scrape did not read the page");
c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < rounds; i++) await scraper.round();
const wall = performance.now() - t0;
const scrapeUs = (cpuMs(process.cpuUsage(c0)) * 1000) / (rounds * endpoints);
scraper.stop();
server.kill();

const [l1] = (await import("node:os")).loadavg();
console.log(
  JSON.stringify({
    page: { bytes: page.length, lines: page.split("\n").length },
    parseCpuUsPerPage: Number(parseUs.toFixed(1)),
    scrapeCpuUsPerEndpoint: Number(scrapeUs.toFixed(1)),
    scrapes: rounds * endpoints,
    wallMs: Math.round(wall),
    loadavg1: l1,
  }),
);
process.exit(0);
