/**
 * One reversible escaping of free-form names (models, pods, pools) into a single NATS subject
 * token that is also a valid JetStream KV key segment.
 *
 * NATS tokens cannot hold `.`, `*`, `>` or whitespace, and KV keys only allow
 * `[-/_=.a-zA-Z0-9]`. So every byte of the UTF-8 encoding outside `[A-Za-z0-9_-]` becomes
 * `=XX` (upper-case hex). `=` itself is escaped, which makes decoding unambiguous.
 * The empty string, which is not a valid token, is written as a lone `=`.
 *
 *   Qwen/Qwen3-32B                   -> Qwen=2FQwen3-32B
 *   meta-llama/Llama-3.1-8B-Instruct -> meta-llama=2FLlama-3=2E1-8B-Instruct
 */
const SAFE = /^[A-Za-z0-9_-]$/;
const EMPTY_TOKEN = "=";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Escaped names, kept because a service escapes the same few model and pod names on every
 * message (kv-index: per KV-event batch published and per index write). Bounded: cleared when full.
 */
const escaped = new Map<string, string>();
const ESCAPED_MAX = 4096;

export function escapeToken(name: string): string {
  let token = escaped.get(name);
  if (token === undefined) {
    token = escapeUncached(name);
    if (escaped.size >= ESCAPED_MAX) escaped.clear();
    escaped.set(name, token);
  }
  return token;
}

function escapeUncached(name: string): string {
  if (name.length === 0) return EMPTY_TOKEN;
  let out = "";
  for (const ch of name) {
    if (SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of encoder.encode(ch)) out += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function unescapeToken(token: string): string {
  if (token === EMPTY_TOKEN) return "";
  const bytes: number[] = [];
  for (let i = 0; i < token.length; ) {
    const ch = token[i]!;
    if (ch === "=") {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new Error(`invalid escaped token "${token}" at offset ${i}`);
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else if (SAFE.test(ch)) {
      bytes.push(ch.charCodeAt(0));
      i += 1;
    } else {
      throw new Error(`invalid escaped token "${token}": unexpected "${ch}" at offset ${i}`);
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}
