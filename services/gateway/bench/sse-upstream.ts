/**
 * A paced OpenAI chat stream upstream (no engine), for `stream-cpu.bench.ts`: every request gets
 * a role-only chunk, `max_tokens` token chunks `--itl-ms` apart (one network write each, as vLLM
 * flushes per token), the finish chunk, the usage chunk and [DONE].
 * Usage: node services/gateway/bench/sse-upstream.ts <port> [itlMs]
 */
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 0);
const itlMs = Number(process.argv[3] ?? 20);
const head =
  '{"id":"chatcmpl-b","object":"chat.completion.chunk","created":1765000000,"model":"Qwen/Qwen3-32B",';
const event = (json: string) => `data: ${json}\n\n`;
const role = event(
  `${head}"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
);
const token = event(
  `${head}"choices":[{"index":0,"delta":{"content":" tok"},"logprobs":null,"finish_reason":null}]}`,
);
const finish = event(
  `${head}"choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length"}]}`,
);

const server = createServer((req, res) => {
  let raw = "";
  req.on("data", (c: Buffer) => {
    raw += c.toString("utf8");
  });
  req.on("end", () => {
    // When the whole request arrived (epoch ms), for the benchmark's added-latency figure.
    process.stdout.write(
      `recv ${req.headers["x-bench-id"]} ${(performance.timeOrigin + performance.now()).toFixed(3)}\n`,
    );
    const body = JSON.parse(raw) as { max_tokens?: number };
    const n = body.max_tokens ?? 16;
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(role);
    let sent = 0;
    const tick = setInterval(() => {
      if (res.destroyed) return clearInterval(tick);
      if (sent < n) {
        res.write(token);
        sent++;
        return;
      }
      clearInterval(tick);
      res.write(finish);
      res.write(
        event(
          `${head}"choices":[],"usage":{"prompt_tokens":100,"total_tokens":${100 + n},"completion_tokens":${n},"prompt_tokens_details":{"cached_tokens":0}}}`,
        ),
      );
      res.end(event("[DONE]"));
    }, itlMs);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
