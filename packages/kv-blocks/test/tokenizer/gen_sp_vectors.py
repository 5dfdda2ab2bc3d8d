"""A SentencePiece-trained tokenizer fixture and ground truth for the cut of SentencePiece-style words.

The tiny-llama fixture (gen_family_vectors.py) was trained on whole sentences (Metaspace
`split: false` during training), so its merges join across "▁" ("er" + "▁"). Vocabularies trained
by SentencePiece (Llama-2, Mistral) split at whitespace first, so no merge joins a character with a
following "▁": this script trains such a vocabulary (Metaspace `split: true` while training) and saves
it the way Llama/Mistral conversions ship (Metaspace `prepend_scheme: "first"`, `split: false`, byte
fallback, BOS by the post-processor, tiny-llama's chat template) in fixtures/tokenizers/tiny-sp/.

Then writes fixtures/tokenizers/sp-vectors.json: `texts`, and per variant the ids from HF tokenizers
(Rust, what vLLM uses) with add_special_tokens False (`ids`) and True (`completionIds`), of texts (short, and long ones so that the chunk cache cuts them)
for four configurations; `edits` names what the tests apply to the fixture's JSON (spVariant in
test/tokenizer/space-cuts.test.ts does the same edits):
- "metaspace": the fixture as saved;
- "metaspace-no-fallback": model.byte_fallback false (characters outside the vocabulary: <unk>, fused);
- "prepend": normaliser Sequence[Prepend("▁"), Replace(" ", "▁")] and no pre-tokenizer (Llama-2's
  legacy conversion);
- "crossing": the merge ("e", "▁") put first, with its token "e▁" (a merge that DOES join across "▁").
Run: python3 -m venv v && v/bin/pip install tokenizers && v/bin/python gen_sp_vectors.py
"""
import json
import os
import random

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "..", "fixtures", "tokenizers")
fixture = os.path.join(fixtures, "tiny-sp")
os.makedirs(fixture, exist_ok=True)

rng = random.Random(16)
base_words = ["the", "cache", "prefix", "router", "latency", "tokens", "model", "server", "Kubernetes", "GPU",
              "block", "hash", "request", "prompt", "weather", "city", "Paris", "tool", "call", "result", "answer",
              "question", "déjà", "vu", "naïve", "über", "东京", "print(x)", "def", "return", "{", "}", "42", "3.14",
              "a", "of", "to", "and", "in", "is", "it", "that", "for", "on", "with", "as", "was", "be", "by", "at"]
syllables = "ka lo mi nu pe ra si tu ve wo xa yo ze bri cha dro fle gru pha sto tri".split(" ")
made_up = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(600)]
lexicon = base_words + made_up


def sentence():
    words = [rng.choice(lexicon) for _ in range(rng.randint(5, 30))]
    return " ".join(words) + rng.choice([".", ",", "!", "?", ".\n", "\n"])


corpus = ["".join(sentence() for _ in range(rng.randint(1, 4))) for _ in range(4000)]

SPECIAL = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
           "[TOOL_RESULTS]", "[/TOOL_RESULTS]"]
sp = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
# SentencePiece's default: words at whitespace, "▁" leading each, so no merge crosses a word boundary.
sp.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
trainer = trainers.BpeTrainer(vocab_size=2500, special_tokens=SPECIAL + byte_tokens, show_progress=False,
                              initial_alphabet=[])
sp.train_from_iterator(corpus, trainer)
# Shipped as Llama/Mistral conversions are: one word per piece, "▁" prepended to the first piece only.
sp.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
sp.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                decoders.Strip(" ", 1, 0)])
sp.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                  special_tokens=[("<s>", sp.token_to_id("<s>"))])
sp.save(os.path.join(fixture, "tokenizer.json"))
with open(os.path.join(fixtures, "tiny-llama", "tokenizer_config.json")) as f:
    config = json.load(f)
with open(os.path.join(fixture, "tokenizer_config.json"), "w") as f:
    json.dump(config, f, ensure_ascii=False, indent=2)

base = json.loads(sp.to_str())


def variant(name):
    j = json.loads(json.dumps(base))
    if name == "metaspace-no-fallback":
        j["model"]["byte_fallback"] = False
    elif name == "prepend":
        j["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
        j["pre_tokenizer"] = None
    elif name == "crossing":
        j["model"]["vocab"]["e\u2581"] = len(j["model"]["vocab"]) + len(j["added_tokens"])
        j["model"]["merges"].insert(0, ["e", "\u2581"])
    return j


extra = ["[INST]", "[/INST]", "</s>", "<s>", " ", "  ", "   ", "\n", "\n ", "\t", "😀", "é", "Ω", "\u0000", "▁",
         "▁▁", "e ", ".", "Zq"]
texts = ["", "Hello world", " leading space", "two  spaces and\ttab\nnew line", "[INST] hi [/INST] there</s>",
         "déjà vu über naïve 东京 😀", "print(x) def return {42} 3.14", "the  cache", "e e e", "▁x ▁ y"]
for _ in range(40):
    texts.append("".join(rng.choice(lexicon + extra) + rng.choice(["", " ", " ", "\n"])
                         for _ in range(rng.randint(1, 200))))
for _ in range(3):  # long: the chunk cache (1,024 characters) cuts these
    texts.append("".join(rng.choice(lexicon + extra) + rng.choice([" ", " ", " ", "\n", ". "])
                         for _ in range(rng.randint(600, 900))))

out = {"texts": texts, "variants": []}
for name in ["metaspace", "metaspace-no-fallback", "prepend", "crossing"]:
    tok = Tokenizer.from_str(json.dumps(variant(name)))
    out["variants"].append({
        "name": name,
        "ids": [tok.encode(t, add_special_tokens=False).ids for t in texts],
        "completionIds": [tok.encode(t, add_special_tokens=True).ids for t in texts],
    })
with open(os.path.join(fixtures, "sp-vectors.json"), "w") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
print("tiny-sp vocab", sp.get_vocab_size(), "; variants", [v["name"] for v in out["variants"]])
