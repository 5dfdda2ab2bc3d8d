/**
 * Tokenisation time of an ~8k-token prompt, with and without the prefix (segment/chunk) cache.
 * Workload: a ~6k-token shared system prompt + a ~1.9k-token question that differs on every
 * request (as in the llm-d shared-prefix benchmark), (a) rendered with the Qwen3 chat template,
 * (b) as raw text (completions API). Direct and cached runs alternate, medians are printed.
 * Then SentencePiece-style cases (the tiny-sp fixture), process CPU per call: warm, cold with words
 * seen before, cold with new words, chat and completions.
 * Then (all runs, or alone with "scale") how the CPU of a cold prompt of new words grows with its length,
 * tiny-sp against Qwen3, ~1k to ~8k tokens.
 * Run: node packages/kv-blocks/bench/tokenizer.bench.ts [sp|scale]   ("sp": only the SentencePiece-style
 * cases, "scale": only the growth)
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
  // 32-bit arithmetic (Math.imul): the float product `seed * 1103515245` it replaced lost its low
  // bits and cycled after ~10,500 draws, so "new" words repeated earlier ones.
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const prose = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => words[Math.floor(rand() * words.length)] + (i % 17 === 16 ? ".\n" : " "),
  ).join("");

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// `node ... tokenizer.bench.ts sp` skips these Qwen3 cases.
if (process.argv[2] !== "sp" && process.argv[2] !== "scale") {
  const tok = await loadTokenizer();
  const system = prose(5200);
  const REQUESTS = 30;
  const questions = Array.from({ length: REQUESTS }, (_, i) => `Request ${i}: ${prose(1750)}`);
  const chat = (i: number): ChatMessage[] => [
    { role: "system", content: system },
    { role: "user", content: questions[i]! },
  ];
  const chatTexts = questions.map((_, i) => tok.applyChatTemplate(chat(i)));
  const rawTexts = questions.map((q) => `${system}\n${q}`);
  process.stdout.write(
    `prompt: ${tok.encode(chatTexts[0]!).length} tokens as chat (${chatTexts[0]!.length} chars), ${tok.encode(rawTexts[0]!).length} as raw text\n`,
  );

  function compare(name: string, texts: string[]): void {
    tok.clearCache();
    const t0 = performance.now();
    tok.encode(texts[0]!);
    const cold = performance.now() - t0;
    const direct: number[] = [];
    const cached: number[] = [];
    for (let i = 1; i < texts.length; i++) {
      let t = performance.now();
      tok.encodeDirect(texts[i]!);
      direct.push(performance.now() - t);
      t = performance.now();
      tok.encode(texts[i]!);
      cached.push(performance.now() - t);
    }
    process.stdout.write(
      `${name.padEnd(10)} without cache ${median(direct).toFixed(2).padStart(6)} ms   with cache ${median(cached).toFixed(2).padStart(6)} ms   (first request, cold cache ${cold.toFixed(2)} ms)\n`,
    );
  }

  const t = performance.now();
  for (let i = 0; i < REQUESTS; i++) tok.applyChatTemplate(chat(i));
  process.stdout.write(
    `render chat template: ${((performance.now() - t) / REQUESTS).toFixed(2)} ms/request\n`,
  );
  compare("chat", chatTexts);
  compare("raw text", rawTexts);
  process.stdout.write(`cache after raw run: ${JSON.stringify(tok.cacheStats())}\n`);

  // Issue 16's aim: per pick on a warm ~6000-token prefix (seen before) plus a short new tail, and cold
  // (a 6000-token prompt never seen), for chat (template + tokens) and completions (special tokens).
  // Times are wall-clock medians on one thread = the tokeniser's CPU time for the pick.
  {
    const fresh = await loadTokenizer("Qwen/Qwen3-32B", {});
    const prefix = prose(5650);
    const tails = Array.from({ length: REQUESTS }, (_, i) => `Turn ${i}: ${prose(60)}`);
    const chatReq = (i: number) => ({
      messages: [
        { role: "system", content: prefix },
        { role: "user", content: tails[i]! },
      ],
      addGenerationPrompt: true,
    });
    const n = fresh.encodeChatRequest(chatReq(0)).length;
    const measure = (f: (i: number) => unknown) => {
      const xs: number[] = [];
      for (let i = 1; i < REQUESTS; i++) {
        const t0 = performance.now();
        f(i);
        xs.push(performance.now() - t0);
      }
      return median(xs);
    };
    fresh.encodeChatRequest(chatReq(0)); // warms the prefix
    const warmChat = measure((i) => fresh.encodeChatRequest(chatReq(i)));
    fresh.encodeCompletion(`${prefix}\n${tails[0]}`);
    const warmText = measure((i) => fresh.encodeCompletion(`${prefix}\n${tails[i]}`));
    const coldChat = measure((i) => {
      fresh.clearCache();
      return fresh.encodeChatRequest(chatReq(i));
    });
    const coldText = measure((i) => {
      fresh.clearCache();
      return fresh.encodeCompletion(`${prefix}\n${tails[i]}`);
    });
    process.stdout.write(
      `per pick, ${n}-token prompt (~${n - 90} shared + ~90 new): warm chat ${warmChat.toFixed(2)} ms, warm completions ${warmText.toFixed(2)} ms; cold chat ${coldChat.toFixed(2)} ms, cold completions ${coldText.toFixed(2)} ms\n`,
    );
  }
}

// SentencePiece-style tokenizers (issue 16, session 7): the tiny-sp fixture (trained the SentencePiece
// way, shipped as Llama/Mistral conversions are: Metaspace `split: false`, byte fallback, BOS). Process
// CPU per call (`process.cpuUsage`, all threads), medians; `node ... tokenizer.bench.ts sp` runs only these.
if (process.argv[2] !== "scale") {
  const { readFileSync } = await import("node:fs");
  const { loadavg } = await import("node:os");
  const { ChatTokenizer } = await import("../src/index.ts");
  const dir = new URL("../fixtures/tokenizers/tiny-sp/", import.meta.url);
  const sp = new ChatTokenizer(
    "tiny-sp",
    JSON.parse(readFileSync(new URL("tokenizer.json", dir), "utf8")),
    JSON.parse(readFileSync(new URL("tokenizer_config.json", dir), "utf8")),
  );
  const syllables = "ka lo mi nu pe ra si tu ve wo xa yo ze bri cha dro fle gru pha sto tri".split(" ");
  const madeUp = () =>
    Array.from(
      { length: 1 + Math.floor(rand() * 3) },
      () => syllables[Math.floor(rand() * syllables.length)],
    ).join("");
  // ~4,000 words seen before (a lexicon, as the routing bench's prompts), and words never seen.
  const lexicon = [...words, ...Array.from({ length: 4000 }, madeUp)];
  const fresh = () => `${madeUp()}${madeUp()}${Math.floor(rand() * 1e6)}`;
  const textOf = (n: number, word: () => string) =>
    Array.from({ length: n }, (_, i) => word() + (i % 17 === 16 ? ".\n" : " ")).join("");
  const seen = () => lexicon[Math.floor(rand() * lexicon.length)]!;
  // Words per 6,000 tokens, measured on a sample of each kind of text.
  const wordsFor = (word: () => string) => Math.round((6000 * 2000) / sp.encode(textOf(2000, word)).length);
  const nSeen = wordsFor(seen);
  const nFresh = wordsFor(fresh);
  const N = 30;
  sp.encode(textOf(20000, seen)); // the lexicon's words have been seen
  const question = (i: number) => `Question ${i}: ${textOf(40, seen)}`;
  const cpuMs = (f: () => unknown): number => {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  const chatOf = (system: string, user: string) => ({
    messages: [
      { role: "system", content: system },
      { role: "user", content: user },
    ],
    addGenerationPrompt: true,
  });
  const cases: [string, (i: number) => number][] = [];
  const coldSeen = Array.from({ length: N }, () => textOf(nSeen, seen));
  const coldFresh = Array.from({ length: N }, () => textOf(nFresh, fresh));
  // Texts of their own for the chat case: the completions case's words are no longer new.
  const coldFreshChat = Array.from({ length: N }, () => textOf(nFresh, fresh));
  const prefix = textOf(nSeen, seen);
  cases.push([
    "warm completions (prefix seen, new question)",
    (i) => sp.encodeCompletion(`${prefix}\n${question(i)}`).length,
  ]);
  cases.push([
    "warm chat (prefix seen, new question)",
    (i) => sp.encodeChatRequest(chatOf(prefix, question(i))).length,
  ]);
  cases.push([
    "cold completions, words seen before",
    (i) => sp.encodeCompletion(`${coldSeen[i]}\n${question(i)}`).length,
  ]);
  cases.push([
    "cold chat, words seen before",
    (i) => sp.encodeChatRequest(chatOf(coldSeen[i]!, question(i))).length,
  ]);
  cases.push([
    "cold completions, new words",
    (i) => sp.encodeCompletion(`${coldFresh[i]}\n${question(i)}`).length,
  ]);
  cases.push([
    "cold chat, new words",
    (i) => sp.encodeChatRequest(chatOf(coldFreshChat[i]!, question(i))).length,
  ]);
  for (const [label, run] of cases) {
    if (label.startsWith("warm")) run(0); // the prefix seen once
    let tokens = 0;
    const xs = Array.from({ length: N - 1 }, (_, k) => cpuMs(() => (tokens = run(k + 1))));
    process.stdout.write(
      `tiny-sp ${label.padEnd(46)} ${String(tokens).padStart(5)} tokens: CPU ${median(xs).toFixed(2).padStart(6)} ms (median of ${N - 1})\n`,
    );
  }
  process.stdout.write(
    `load average: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}\n`,
  );
}

// Growth with length (issue 16, session 9): cold prompts of words never seen (made-up words + a number),
// ~1k, 2k, 4k and 8k tokens, tiny-sp and Qwen3, each tokenizer warmed on 30 short prompts first;
// process CPU per prompt, medians of 15. Linear means a flat CPU per token.
if (process.argv[2] === undefined || process.argv[2] === "scale") {
  const { readFileSync } = await import("node:fs");
  const { ChatTokenizer } = await import("../src/index.ts");
  const dir = new URL("../fixtures/tokenizers/tiny-sp/", import.meta.url);
  const sp = new ChatTokenizer(
    "tiny-sp",
    JSON.parse(readFileSync(new URL("tokenizer.json", dir), "utf8")),
    JSON.parse(readFileSync(new URL("tokenizer_config.json", dir), "utf8")),
  );
  const qwen = await loadTokenizer("Qwen/Qwen3-32B", {});
  const syllables = "ka lo mi nu pe ra si tu ve wo xa yo ze bri cha dro fle gru pha sto tri".split(" ");
  const madeUp = () =>
    Array.from(
      { length: 1 + Math.floor(rand() * 4) },
      () => syllables[Math.floor(rand() * syllables.length)],
    ).join("");
  const newWords = (n: number) =>
    Array.from(
      { length: n },
      (_, i) => `${madeUp()}${madeUp()}${Math.floor(rand() * 1e6)}${i % 17 === 16 ? ".\n" : " "}`,
    ).join("");
  const cpuMs = (f: () => unknown): number => {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  for (const [name, tok] of [
    ["tiny-sp", sp],
    ["qwen3", qwen],
  ] as const) {
    const perWord = tok.encode(newWords(400)).length / 400;
    for (let r = 0; r < 30; r++) tok.encodeCompletion(newWords(300));
    const row: string[] = [];
    for (const target of [1000, 2000, 4000, 8000]) {
      let tokens = 0;
      const xs = Array.from({ length: 15 }, () => {
        const text = newWords(Math.round(target / perWord));
        return cpuMs(() => (tokens = tok.encodeCompletion(text).length));
      });
      row.push(
        `${tokens} tokens ${median(xs).toFixed(2)} ms (${((median(xs) / tokens) * 1000).toFixed(2)} us/token)`,
      );
    }
    process.stdout.write(`new words, ${name}: ${row.join("; ")}\n`);
  }
  process.stdout.write(
    `load average: ${(await import("node:os"))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}\n`,
  );
}
