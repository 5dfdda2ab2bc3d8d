import { createHash, timingSafeEqual } from "node:crypto";
import type { ModelPolicies } from "./model-policy.ts";

/**
 * Who may call which model. Keys are kept only as SHA-256 digests: configured as
 * `sha256:<64 hex>` (what an operator should write, made with `printf %s KEY | sha256sum`), or
 * as plain text, hashed on load. A presented key is hashed and compared with every digest of
 * the model in constant time (no early exit), so timing tells nothing about how close a guess
 * was. Keys come from the per-model policies (`models.<m>.apiKeys`, `modelDefaults.apiKeys`)
 * and from the API-key file (`apiKeysFile`: per model, or `*` for every model), which can be
 * swapped at any time (reload without restart).
 */
export class ApiKeys {
  readonly #policies: ModelPolicies;
  readonly #policyDigests = new Map<readonly string[], Buffer[]>();
  #file: ReadonlyMap<string, readonly Buffer[]> = new Map();

  constructor(policies: ModelPolicies) {
    this.#policies = policies;
  }

  /** Replaces the keys of the API-key file (model or "*" -> digests). */
  setFileKeys(keys: ReadonlyMap<string, readonly Buffer[]>): void {
    this.#file = keys;
  }

  #digests(model: string, baseModel: string): Buffer[] {
    const configured = this.#policies.get(model, baseModel).apiKeys;
    let fromPolicy = this.#policyDigests.get(configured);
    if (fromPolicy === undefined) {
      fromPolicy = configured.map(digestOf);
      this.#policyDigests.set(configured, fromPolicy);
    }
    return [
      ...fromPolicy,
      ...(this.#file.get(model) ?? []),
      ...(model !== baseModel ? (this.#file.get(baseModel) ?? []) : []),
      ...(this.#file.get("*") ?? []),
    ];
  }

  /** True when the model needs a key. */
  protects(model: string, baseModel: string = model): boolean {
    return this.#digests(model, baseModel).length > 0;
  }

  /** True when `token` may call the model (always true for an unprotected model). */
  allows(model: string, baseModel: string, token: string): boolean {
    const digests = this.#digests(model, baseModel);
    if (digests.length === 0) return true;
    if (token === "") return false;
    const presented = sha256(token);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
    return ok;
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** A configured key: `sha256:<hex>` is a digest already, anything else a plain key. */
export function digestOf(configured: string): Buffer {
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(configured);
  return m ? Buffer.from(m[1]!, "hex") : sha256(configured);
}

/**
 * Parses an API-key file: one key per line, `<model or *> <key>`, where the key is
 * `sha256:<hex>` or plain text; `#` starts a comment. Throws naming the line of a bad entry.
 */
export function parseApiKeyFile(text: string): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) throw new Error(`line ${i + 1}: expected "<model or *> <key>"`);
    const [model, key] = parts as [string, string];
    if (key.startsWith("sha256:") && !/^sha256:[0-9a-fA-F]{64}$/.test(key))
      throw new Error(`line ${i + 1}: sha256: must be followed by 64 hex digits`);
    const list = out.get(model) ?? [];
    list.push(digestOf(key));
    out.set(model, list);
  }
  return out;
}
