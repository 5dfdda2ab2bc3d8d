/**
 * CPU the gateway spends observing a streamed answer (issue 16, lean hot path): the per-chunk work
 * of `#relaySse` without the sockets — SSE framing (SseSplitter), first-token / ITL / usage
 * detection (StreamObserver) and the two ITL histogram observations per gap (prom-client, as the
 * request recorder makes them). Streams are shaped like vLLM 0.34 / model-sim chat streams: a
 * role-only chunk, one chunk per token, the finish chunk, the usage chunk and [DONE], each event
 * arriving in its own network chunk (vLLM flushes per token). Prints figures, asserts nothing.
 *
 *   node services/gateway/bench/stream-observe.bench.ts [--requests 2000] [--tokens 200]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { Histogram, Registry } from "prom-client";
import { SseSplitter } from "../src/domain/sse.ts";
import { StreamObserver } from "../src/domain/stream-observer.ts";

const { values: args } = parseArgs({
  options: { requests: { type: "string", default: "2000" }, tokens: { type: "string", default: "200" } },
});
const REQUESTS = Number(args.requests);
const TOKENS = Number(args.tokens);

const head =
  '{"id":"chatcmpl-5f2c","object":"chat.completion.chunk","created":1765000000,"model":"Qwen/Qwen3-32B",';
const event = (json: string) => Buffer.from(`data: ${json}\n\n`);
const words = " the cache prefix router latency tokens model server block hash".split(" ");
const stream: Buffer[] = [
  event(
    `${head}"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
  ),
  ...Array.from({ length: TOKENS - 1 }, (_, i) =>
    event(
      `${head}"choices":[{"index":0,"delta":{"content":"${words[i % words.length]} "},"logprobs":null,"finish_reason":null}],"kv_transfer_params":null}`,
    ),
  ),
  event(
    `${head}"choices":[{"index":0,"delta":{"content":"."},"logprobs":null,"finish_reason":"length","stop_reason":null}],"kv_transfer_params":null}`,
  ),
  event(
    `${head}"choices":[],"usage":{"prompt_tokens":6100,"total_tokens":6300,"completion_tokens":${TOKENS},"prompt_tokens_details":{"cached_tokens":6000}}}`,
  ),
  Buffer.from("data: [DONE]\n\n"),
];

const registry = new Registry();
const itl = new Histogram({ name: "itl", help: "itl", registers: [registry] });
const eppItl = new Histogram({ name: "epp_itl", help: "epp itl", registers: [registry] });

let checksum = 0;
function observe(): void {
  const splitter = new SseSplitter();
  const observer = new StreamObserver({ stripUsageChunk: true });
  let now = 0;
  for (const chunk of stream) {
    now += 20;
    for (const ev of splitter.push(chunk)) {
      const gaps = observer.gaps.length;
      if (observer.onData(ev.data, now) === "forward") checksum += ev.raw.length;
      if (observer.gaps.length > gaps) {
        itl.observe(observer.gaps[gaps]!);
        eppItl.observe(observer.gaps[gaps]!);
      }
    }
  }
  checksum += observer.itl().count + (observer.usage?.completionTokens ?? 0);
}

for (let i = 0; i < Math.min(200, REQUESTS); i++) observe(); // warm-up (JIT)
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < REQUESTS; i++) observe();
const wall = performance.now() - t0;
const c = process.cpuUsage(c0);
const cpuMs = (c.user + c.system) / 1000;
const chunks = REQUESTS * stream.length;
process.stdout.write(
  `${REQUESTS} streams x ${stream.length} chunks (${TOKENS} tokens): CPU ${(cpuMs / REQUESTS).toFixed(3)} ms per request, ${((1000 * cpuMs) / chunks).toFixed(2)} us per chunk (wall ${(wall / REQUESTS).toFixed(3)} ms per request); load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")} (checksum ${checksum})\n`,
);
