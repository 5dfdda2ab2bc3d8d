/**
 * Checks an OpenAI-API answer against the field sets of vLLM's pydantic response models
 * (@inferd/kv-blocks/fixtures/vllm-openai/<version>.json, read from vLLM's source by
 * packages/kv-blocks/scripts/vllm-golden/openai-fields.sh). Returns one line per difference, with
 * its path, so a test shows every missing or foreign field at once.
 */

export interface VllmFieldDoc {
  readonly vllm: string;
  readonly models: Record<
    string,
    {
      readonly fields: readonly {
        readonly name: string;
        readonly required: boolean;
        readonly excludeIfNone: boolean;
        readonly dropWhenEmpty: boolean;
      }[];
    }
  >;
}

/**
 * `full`: the non-streaming body (`model_dump()`: every field, None as null, except fields pydantic
 * excludes when None and lists the model's serializer drops when empty). `unset`: a stream chunk
 * (`model_dump_json(exclude_unset=True)`): any subset of the fields, required ones present.
 */
export type VllmDumpMode = "full" | "unset";

/** Which model each nested field holds. */
const NESTED: Record<string, Record<string, string>> = {
  ChatCompletionResponse: { choices: "ChatCompletionResponseChoice", usage: "UsageInfo" },
  ChatCompletionResponseChoice: { message: "ChatMessage" },
  ChatCompletionStreamResponse: { choices: "ChatCompletionResponseStreamChoice", usage: "UsageInfo" },
  ChatCompletionResponseStreamChoice: { delta: "DeltaMessage" },
  CompletionResponse: { choices: "CompletionResponseChoice", usage: "UsageInfo" },
  CompletionStreamResponse: { choices: "CompletionResponseStreamChoice", usage: "UsageInfo" },
  UsageInfo: { prompt_tokens_details: "PromptTokenUsageInfo" },
};

export function vllmShapeProblems(
  doc: VllmFieldDoc,
  model: string,
  value: unknown,
  mode: VllmDumpMode,
  path = model,
): string[] {
  const spec = doc.models[model];
  if (spec === undefined) return [`${path}: no model ${model} in the vLLM ${doc.vllm} field sets`];
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [`${path}: expected an object, got ${JSON.stringify(value)}`];
  const obj = value as Record<string, unknown>;
  const problems: string[] = [];
  const known = new Set(spec.fields.map((f) => f.name));
  for (const key of Object.keys(obj))
    if (!known.has(key)) problems.push(`${path}.${key}: not a field of vLLM ${doc.vllm}'s ${model}`);
  for (const f of spec.fields) {
    const present = f.name in obj;
    const v = obj[f.name];
    if (f.excludeIfNone && present && v === null)
      problems.push(`${path}.${f.name}: vLLM leaves it out when None, got null`);
    else if (f.dropWhenEmpty && present && Array.isArray(v) && v.length === 0)
      problems.push(`${path}.${f.name}: vLLM leaves it out when empty, got []`);
    else if (!present && (f.required || (mode === "full" && !f.excludeIfNone && !f.dropWhenEmpty)))
      problems.push(`${path}.${f.name}: missing (vLLM ${doc.vllm} always sends it here)`);
    const nested = NESTED[model]?.[f.name];
    if (nested === undefined || !present || v === null) continue;
    if (Array.isArray(v))
      v.forEach((item, i) => {
        problems.push(...vllmShapeProblems(doc, nested, item, mode, `${path}.${f.name}[${i}]`));
      });
    else problems.push(...vllmShapeProblems(doc, nested, v, mode, `${path}.${f.name}`));
  }
  return problems;
}
