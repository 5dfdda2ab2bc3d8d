/**
 * Tokenisation time of an ~8k-token chat prompt, with and without the prefix (segment) cache.
 * Workload: a ~6k-token shared system prompt + a ~2k-token user question that differs on every
 * request (as in the llm-d shared-prefix benchmark), rendered with the Qwen3 chat template.
 * Run: node packages/kv-blocks/bench/tokenizer.bench.ts
 */
import { type ChatMessage, loadTokenizer } from "../src/index.ts";

const words = [
  "the",
  "cache",
  "prefix",
  "router",
  "latency",
  "tokens",
  "model",
  "server",
  "Kubernetes",
  "GPU",
  "block",
  "hash",
];
let seed = 1;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const prose = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => words[Math.floor(rand() * words.length)] + (i % 17 === 16 ? ".\n" : " "),
  ).join("");

const tok = await loadTokenizer();
const system = prose(5200);
const request = (i: number): ChatMessage[] => [
  { role: "system", content: system },
  { role: "user", content: `Request ${i}: ${prose(1750)}` },
];
const sample = tok.encodeChat(request(0));
process.stdout.write(`prompt: ${sample.length} tokens (${tok.applyChatTemplate(request(0)).length} chars)\n`);

function time(name: string, runs: number, fn: (i: number) => void): void {
  for (let i = 0; i < 3; i++) fn(1000 + i);
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) fn(i);
  process.stdout.write(
    `${name.padEnd(46)} ${((performance.now() - t0) / runs).toFixed(2).padStart(8)} ms/request\n`,
  );
}

const texts = Array.from({ length: 40 }, (_, i) => tok.applyChatTemplate(request(i)));
time("render chat template", 40, (i) => tok.applyChatTemplate(request(i % 40)));
time("tokenise without cache (encodeDirect)", 20, (i) => tok.encodeDirect(texts[i % 40]!));
time("tokenise with cache (system prompt cached)", 40, (i) => tok.encode(texts[i % 40]!));
process.stdout.write(`cache: ${JSON.stringify(tok.cacheStats())}\n`);
