/**
 * The cheapest possible OpenAI-compatible upstream (canned answers, no engine), so the
 * throughput benchmark can show the gateway's own ceiling separately from model-sim's.
 * Usage: node services/gateway/bench/null-upstream.ts <port>
 */
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 0);
const body = JSON.stringify({
  id: "cmpl-null",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "Qwen/Qwen3-32B",
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "length" }],
  usage: {
    prompt_tokens: 8,
    completion_tokens: 1,
    total_tokens: 9,
    prompt_tokens_details: { cached_tokens: 0 },
  },
});

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
