"""Field sets of vLLM's OpenAI response models, read from vLLM's own source (no vLLM import).

Usage: openai_fields.py <vllm wheel> <version> <out.json>

For each response model the simulator and the gateway must reproduce, this walks the class in the
wheel's protocol modules with `ast` (pydantic is not imported, so no vLLM dependency is needed) and
records every field in declaration order, following base classes: whether it is required (no
default), whether pydantic drops it when None (`Field(..., exclude_if=lambda value: value is None)`),
and whether the model's `model_serializer` pops it when empty (`if len(data.get("x", [])) == 0:
data.pop("x")`). ClassVar annotations are not fields. The JSON written is the test fixture
packages/kv-blocks/fixtures/vllm-openai/<version>.json.
"""

import ast
import json
import sys
import zipfile

MODULES = [
    "vllm/entrypoints/serve/engine/protocol.py",
    "vllm/entrypoints/generate/base/protocol.py",
    "vllm/entrypoints/openai/chat_completion/protocol.py",
    "vllm/entrypoints/openai/completion/protocol.py",
]
MODELS = [
    "ChatCompletionResponse",
    "ChatCompletionResponseChoice",
    "ChatMessage",
    "ChatCompletionStreamResponse",
    "ChatCompletionResponseStreamChoice",
    "DeltaMessage",
    "CompletionResponse",
    "CompletionResponseChoice",
    "CompletionStreamResponse",
    "CompletionResponseStreamChoice",
    "UsageInfo",
    "PromptTokenUsageInfo",
]


def is_classvar(annotation: ast.expr) -> bool:
    node = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    return isinstance(node, ast.Name) and node.id == "ClassVar"


def field_info(stmt: ast.AnnAssign) -> dict:
    info = {"name": stmt.target.id, "required": stmt.value is None, "excludeIfNone": False}
    v = stmt.value
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "Field":
        kw = {k.arg: k.value for k in v.keywords}
        has_default = "default" in kw or "default_factory" in kw or len(v.args) > 0
        info["required"] = not has_default
        ex = kw.get("exclude_if")
        if ex is not None:
            src = ast.unparse(ex)
            if src.replace(" ", "") != "lambdavalue:valueisNone":
                raise SystemExit(f"{stmt.target.id}: unexpected exclude_if {src}")
            info["excludeIfNone"] = True
    return info


def dropped_when_empty(cls: ast.ClassDef) -> list[str]:
    out = []
    for fn in cls.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        if not any("model_serializer" in ast.unparse(d) for d in fn.decorator_list):
            continue
        for node in ast.walk(fn):
            # if len(data.get("x", [])) == 0: data.pop("x", None)
            if isinstance(node, ast.If) and "len(data.get(" in ast.unparse(node.test):
                for call in ast.walk(node):
                    if isinstance(call, ast.Call) and ast.unparse(call.func) == "data.pop":
                        out.append(call.args[0].value)
    return out


def main() -> None:
    wheel, version, out_path = sys.argv[1:]
    classes: dict[str, tuple[str, ast.ClassDef]] = {}
    with zipfile.ZipFile(wheel) as z:
        for module in MODULES:
            tree = ast.parse(z.read(module).decode("utf8"))
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    classes[node.name] = (module, node)

    def fields_of(name: str) -> list[dict]:
        module, cls = classes[name]
        inherited: list[dict] = []
        for base in cls.bases:
            base_name = ast.unparse(base)
            if base_name in classes:
                inherited += fields_of(base_name)
            elif base_name != "BaseModel":
                raise SystemExit(f"{name}: base {base_name} not in the parsed modules")
        own = [
            field_info(s)
            for s in cls.body
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and not is_classvar(s.annotation)
        ]
        names = {f["name"] for f in own}
        return [f for f in inherited if f["name"] not in names] + own

    models = {}
    for name in MODELS:
        module, cls = classes[name]
        drop = dropped_when_empty(cls)
        fields = fields_of(name)
        for f in fields:
            f["dropWhenEmpty"] = f["name"] in drop
        models[name] = {"module": module, "fields": fields}
    doc = {
        "vllm": version,
        "generatedBy": "packages/kv-blocks/scripts/vllm-golden/openai-fields.sh (ast over the wheel's protocol modules)",
        "models": models,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


main()
