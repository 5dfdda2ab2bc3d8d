/**
 * Token-id lookups while text lookups are tokenised: what a long prompt's tokenisation costs the
 * lookups behind it, with the tokenizer on the event loop (`--workers 0`) or in worker threads
 * (`--workers 1`, kv-index's default). In-memory index (no Redis in the figures); one text lookup
 * of a fresh ~8k-token prompt every `--text-every-ms`, token-id lookups (512 blocks) back to back.
 *
 *   node services/kv-index/bench/lookup-mixed.ts [--workers 1] [--seconds 10] [--text-every-ms 50]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { InMemoryBlockIndex } from "@inferd/block-index";
import { requestKeys } from "@inferd/kv-blocks";
import { KvLookupRequestSchema, make } from "@inferd/protocol";
import { localTokenizerBackend, tokenizerSourcesOf } from "@inferd/tokenizers";
import { PrefixLookup } from "../src/lookup/lookup.ts";
import { LookupTokenizers } from "../src/lookup/tokenizers.ts";

const { values } = parseArgs({
  options: {
    workers: { type: "string", default: "1" },
    seconds: { type: "string", default: "10" },
    "text-every-ms": { type: "string", default: "50" },
  },
});
const WORKERS = Number(values.workers);
const MODEL = "Qwen/Qwen3-32B";
const BS = 16;

const tokenizers = new LookupTokenizers(tokenizerSourcesOf({ tokenizer: "qwen3", tokenizerSources: {} }), {
  serverTimeoutMs: 1_000,
  backend: localTokenizerBackend(WORKERS),
});
const index = new InMemoryBlockIndex();
const lookup = new PrefixLookup(index, { blockSize: BS, tokenize: tokenizers.tokenize });

const ids = Array.from({ length: 512 * BS }, (_, i) => 1 + ((i * 7919) % 150_000));
const keys = requestKeys(MODEL, ids, { blockSize: BS });
for (let p = 0; p < 16; p++) await index.add(MODEL, `pod-${p}`, "gpu", null, keys.slice(0, p * 32));
const idRequest = make(KvLookupRequestSchema, { model: MODEL, prompt: { case: "tokens", value: { ids } } });

// A fresh prompt each time (its first word differs), so no tokenizer prefix cache hides the work.
const words = Array.from({ length: 1700 }, (_, i) => `word${(i * 7919) % 3001}`).join(" ");
const textRequest = (n: number) =>
  make(KvLookupRequestSchema, { model: MODEL, prompt: { case: "text", value: `q${n} ${words}` } });

await lookup.lookup(textRequest(-1)); // loads the tokenizer
for (let i = 0; i < 200; i++) await lookup.lookup(idRequest);

const load0 = loadavg();
const cpu0 = process.cpuUsage();
const end = performance.now() + Number(values.seconds) * 1000;
let texts = 0;
let textTokens = 0;
const textMs: number[] = [];
const inFlight = new Set<Promise<void>>();
const textTimer = setInterval(() => {
  const t = performance.now();
  const p = lookup.lookup(textRequest(texts++)).then(({ response }) => {
    textMs.push(performance.now() - t);
    textTokens += response.promptTokens;
  });
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
}, Number(values["text-every-ms"]));
const idMs: number[] = [];
while (performance.now() < end) {
  // Each lookup is due when the previous one ended; it is handed to the event loop (as a request
  // arriving on a socket would be) and timed until answered, so a blocked loop shows in it.
  const t = performance.now();
  await new Promise((r) => setImmediate(r));
  await lookup.lookup(idRequest);
  idMs.push(performance.now() - t);
}
clearInterval(textTimer);
await Promise.all(inFlight);
const cpu = process.cpuUsage(cpu0);
await tokenizers.close();

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};
console.log(
  JSON.stringify(
    {
      workers: WORKERS,
      idLookups: idMs.length,
      idP50Ms: pct(idMs, 0.5),
      idP99Ms: pct(idMs, 0.99),
      idP999Ms: pct(idMs, 0.999),
      idMaxMs: pct(idMs, 1),
      idOver2Ms: idMs.filter((x) => x > 2).length,
      textLookups: textMs.length,
      textTokensMean: textTokens / Math.max(1, textMs.length),
      textP50Ms: pct(textMs, 0.5),
      textP99Ms: pct(textMs, 0.99),
      processCpuSeconds: (cpu.user + cpu.system) / 1e6,
      loadavg: [load0[0], loadavg()[0]],
    },
    null,
    2,
  ),
);
