import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connectNats, DeliverPolicy, decodeMessage, jetstream } from "@inferd/bus";
import {
  batchToJson,
  DEFAULT_VLLM_VERSION,
  decodeKvEventBatch,
  decodeSeq,
  hashLines,
  isEngineHashAlgo,
  parseTokenIds,
  vllmRules,
} from "@inferd/kv-blocks";
import { KvEventBatchSchema, lastTokens, subjects, toJson } from "@inferd/protocol";
import { splitCapture } from "../kv/capture.ts";

export const KV_HELP = `inferd kv <decode|hash|tail>

  kv decode [FILE]      decode one vLLM KV-event payload (msgpack), or the three frames of a capture,
                        from FILE or stdin; prints the normalised batch as JSON (hashes as decimal strings)
  kv hash [--vllm-version V] [--algo sha256|sha256_cbor|xxhash|xxhash_cbor] [--seed S]
          [--block-size B] [--lora NAME --lora-path PATH] [--cache-salt SALT] --tokens 1,2,3,...
                        vLLM's block hash chain as vLLM V (default ${DEFAULT_VLLM_VERSION}) computes it: one
                        line per full block, the digest in hex and its uint64 event form in decimal.
                        --seed is the engine's PYTHONHASHSEED; without it, what vLLM does when the
                        variable is unset (sha256/sha256_cbor: seed "vllm-none-hash" since 0.29;
                        otherwise random, which is refused). Default --algo sha256 (vLLM's default).
                        Since 0.31 a LoRA block hash covers the adapter path: give --lora-path.
  kv tail [--model M] [--pod P] [--nats URL] [--from-start]
                        follow the INFERD_KV_EVENTS stream, one JSON line per stream message (one or
                        more consecutive batches of one engine: firstSeq..seq)
`;

export async function runKv(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "decode":
      return kvDecode(rest);
    case "hash":
      return kvHash(rest);
    case "tail":
      return kvTail(rest);
    default:
      process.stderr.write(KV_HELP);
      return 2;
  }
}

function kvDecode(argv: string[]): number {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  const bytes = new Uint8Array(readFileSync(positionals[0] ?? 0));
  const capture = splitCapture(bytes);
  const json = capture
    ? batchToJson(decodeKvEventBatch(capture.payload), {
        topic: new TextDecoder().decode(capture.topic),
        seq: decodeSeq(capture.seq),
      })
    : batchToJson(decodeKvEventBatch(bytes));
  process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  return 0;
}

function kvHash(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      algo: { type: "string", default: "sha256" },
      seed: { type: "string" },
      "vllm-version": { type: "string", default: DEFAULT_VLLM_VERSION },
      "lora-path": { type: "string" },
      "block-size": { type: "string", default: "16" },
      tokens: { type: "string" },
      lora: { type: "string" },
      "cache-salt": { type: "string" },
    },
  });
  const rules = vllmRules(values["vllm-version"]);
  if (!isEngineHashAlgo(values.algo) || !rules.algos.includes(values.algo))
    throw new Error(`--algo: vLLM ${rules.version} offers ${rules.algos.join(", ")}, got "${values.algo}"`);
  if (values.lora && values["lora-path"] === undefined && rules.loraKey === "tagged")
    throw new Error(
      `--lora-path: required with --lora for vLLM ${rules.version} (the hash covers the adapter path)`,
    );
  const blockSize = Number(values["block-size"]);
  if (!Number.isInteger(blockSize) || blockSize < 1)
    throw new Error(`--block-size: must be a positive integer, got "${values["block-size"]}"`);
  const tokens = parseTokenIds(values.tokens ?? "");
  const lines = hashLines(tokens, {
    algo: values.algo,
    seed: values.seed ?? null,
    vllmVersion: rules.version,
    blockSize,
    loraName: values.lora ?? null,
    loraPath: values["lora-path"] ?? null,
    cacheSalt: values["cache-salt"] ?? null,
  });
  for (const line of lines) process.stdout.write(`${line.digest} ${line.hash}\n`);
  if (lines.length === 0)
    process.stderr.write(`no full block: ${tokens.length} tokens < block size ${blockSize}\n`);
  return 0;
}

async function kvTail(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      pod: { type: "string" },
      nats: { type: "string", default: process.env.INFERD_NATS_URL ?? "nats://127.0.0.1:4222" },
      prefix: { type: "string", default: "inferd" },
      "from-start": { type: "boolean", default: false },
    },
  });
  const s = subjects(values.prefix);
  const filter =
    values.model && values.pod
      ? s.kvEvents(values.model, values.pod)
      : values.model
        ? s.kvEventsOfModel(values.model)
        : s.kvEventsAll();
  const nc = await connectNats({ servers: values.nats, name: "inferd-kv-tail", waitOnFirstConnect: false });
  const consumer = await jetstream(nc).consumers.get(s.streams.kvEvents, {
    // One subject as a string: a list needs nats-server 2.10, Debian ships 2.9.
    filter_subjects: filter,
    deliver_policy: values["from-start"] ? DeliverPolicy.All : DeliverPolicy.New,
  });
  const messages = await consumer.consume();
  const stop = () => void messages.close();
  process.once("SIGINT", stop);
  for await (const m of messages) {
    const batch = decodeMessage(m, KvEventBatchSchema);
    const [model, pod] = lastTokens(m.subject, 2);
    if (values.pod && pod !== values.pod) continue;
    process.stdout.write(
      `${JSON.stringify({ model, pod, streamSeq: m.seq, ...(toJson(KvEventBatchSchema, batch) as object) })}\n`,
    );
  }
  await nc.close();
  return 0;
}
