import { MalformedKvEventError } from "../errors.ts";

/**
 * The two non-payload ZeroMQ frames of a vLLM KV-event message `[topic, seq, payload]`
 * (reference §1.1-§1.3).
 */

const U64_MAX = (1n << 64n) - 1n;
/** One decoder for every topic frame (constructing one per message showed in the ingest profile). */
const utf8 = new TextDecoder();

/** Replay end marker: vLLM's `(-1).to_bytes(8, "big", signed=True)`. */
export const END_SEQ: Uint8Array = new Uint8Array(8).fill(0xff);

/** The sequence frame: 8-byte big-endian unsigned (`seq.to_bytes(8, "big")`). */
export function encodeSeq(n: bigint): Uint8Array {
  if (n < 0n || n > U64_MAX) throw new RangeError(`sequence number ${n} is outside uint64`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

/** Reads a sequence frame; anything but exactly 8 bytes throws MalformedKvEventError. */
export function decodeSeq(frame: Uint8Array): bigint {
  if (frame.length !== 8) {
    throw new MalformedKvEventError(
      `malformed KV event sequence frame: expected 8 bytes, got ${frame.length}`,
    );
  }
  return new DataView(frame.buffer, frame.byteOffset, 8).getBigUint64(0);
}

/** True for the replay end marker (all ones, i.e. signed -1). */
export function isEndSeq(frame: Uint8Array): boolean {
  return frame.length === 8 && frame.every((b) => b === 0xff);
}

export const TOPIC_PREFIX = "kv";

export interface KvTopic {
  readonly pod: string;
  readonly model: string;
}

/**
 * Parses the llm-d topic convention `kv@<pod>@<model>`.
 *
 * Decision: the pod is everything between the first and the second `@` (so it cannot contain `@`,
 * but may contain `:` as in `10.0.0.7:8000`); the model is everything after the second `@` and MAY
 * contain `@`. llm-d requires exactly three parts; every topic it accepts parses the same here.
 * The topic may arrive as the raw frame bytes or as a string.
 */
export function parseTopic(topic: string | Uint8Array): KvTopic {
  const text = typeof topic === "string" ? topic : utf8.decode(topic);
  const first = text.indexOf("@");
  const second = first < 0 ? -1 : text.indexOf("@", first + 1);
  if (first < 0 || second < 0 || text.slice(0, first) !== TOPIC_PREFIX) {
    throw new MalformedKvEventError(
      `malformed KV event topic ${JSON.stringify(text)}: expected "${TOPIC_PREFIX}@<pod>@<model>"`,
    );
  }
  const pod = text.slice(first + 1, second);
  const model = text.slice(second + 1);
  if (pod === "" || model === "") {
    throw new MalformedKvEventError(`malformed KV event topic ${JSON.stringify(text)}: empty pod or model`);
  }
  return { pod, model };
}

/** Builds `kv@<pod>@<model>`; a pod containing `@` (or empty names) cannot round-trip and throws. */
export function formatTopic(pod: string, model: string): string {
  if (pod === "" || model === "" || pod.includes("@")) {
    throw new RangeError(
      `cannot build a KV event topic from pod ${JSON.stringify(pod)} and model ${JSON.stringify(model)}`,
    );
  }
  return `${TOPIC_PREFIX}@${pod}@${model}`;
}

/**
 * The frames vLLM's replay ROUTER sends after the client id (`[client, b"", ...]`) for one
 * buffered batch: `[topic, seq, payload]` since 0.26 (the topic frame was added), `[seq,
 * payload]` before.
 */
export function replayBatchFrames(
  replayTopicFrame: boolean,
  topic: Uint8Array,
  seq: bigint,
  payload: Uint8Array,
): Uint8Array[] {
  return replayTopicFrame ? [topic, encodeSeq(seq), payload] : [encodeSeq(seq), payload];
}

/** vLLM's replay end marker: `[b"", END_SEQ, b""]` since 0.26 (an *empty* topic), `[END_SEQ, b""]` before. */
export function replayEndFrames(replayTopicFrame: boolean): Uint8Array[] {
  const empty = new Uint8Array(0);
  return replayTopicFrame ? [empty, END_SEQ, empty] : [END_SEQ, empty];
}
