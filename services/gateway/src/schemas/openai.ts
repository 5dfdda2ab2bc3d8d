/**
 * JSON schemas of the OpenAI request bodies the gateway accepts. They check what the gateway
 * relies on (model, prompt or messages, stream flags, token limits) and the types of the common
 * sampling fields; every other field is kept and passed to the model server untouched
 * (vLLM accepts many extra parameters). Types are never coerced: a string where a number
 * belongs is a 400.
 */

const nullable = (t: string | string[]) => ({ type: [...(Array.isArray(t) ? t : [t]), "null"] });

const common = {
  model: { type: "string", minLength: 1 },
  stream: nullable("boolean"),
  stream_options: {
    type: ["object", "null"],
    properties: { include_usage: nullable("boolean"), continuous_usage_stats: nullable("boolean") },
  },
  max_tokens: { type: ["integer", "null"], minimum: 1 },
  temperature: nullable("number"),
  top_p: nullable("number"),
  n: { type: ["integer", "null"], minimum: 1 },
  seed: nullable("integer"),
  stop: { type: ["string", "array", "null"], items: { type: "string" } },
  presence_penalty: nullable("number"),
  frequency_penalty: nullable("number"),
  user: nullable("string"),
  cache_salt: nullable("string"),
} as const;

export const chatCompletionBody = {
  type: "object",
  required: ["model", "messages"],
  properties: {
    ...common,
    messages: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["role"],
        properties: { role: { type: "string" }, content: { type: ["string", "array", "null"] } },
      },
    },
    max_completion_tokens: { type: ["integer", "null"], minimum: 1 },
    logprobs: nullable("boolean"),
    top_logprobs: nullable("integer"),
  },
} as const;

export const completionBody = {
  type: "object",
  required: ["model", "prompt"],
  properties: {
    ...common,
    prompt: {
      anyOf: [
        { type: "string" },
        {
          type: "array",
          minItems: 1,
          items: {
            anyOf: [{ type: "string" }, { type: "integer" }, { type: "array", items: { type: "integer" } }],
          },
        },
      ],
    },
    echo: nullable("boolean"),
    logprobs: nullable("integer"),
    suffix: nullable("string"),
    best_of: nullable("integer"),
  },
} as const;

export interface ModelObject {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  root: string;
  parent: string | null;
}
