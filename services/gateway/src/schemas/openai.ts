/**
 * JSON schemas of the OpenAI request bodies the gateway accepts. They check what the gateway
 * relies on (model, prompt or messages, stream flags, token limits) and the types of the common
 * sampling fields; every other field is kept and passed to the model server untouched
 * (vLLM accepts many extra parameters). Types are never coerced: a string where a number
 * belongs is a 400.
 *
 * Every value that reaches a protobuf field (PickRequest, RequestEvent) is bounded here to what
 * the field can hold, so a request can never make an encoder throw later: token limits and
 * token ids are uint32 fields. `n`, `best_of` and `top_logprobs` are bounded to OpenAI's own
 * limits so one request cannot ask a model server for an absurd amount of work.
 */

/** Largest value of a protobuf uint32 field. */
export const UINT32_MAX = 4294967295;

const tokenLimit = { type: ["integer", "null"], minimum: 1, maximum: UINT32_MAX } as const;
const tokenId = { type: "integer", minimum: 0, maximum: UINT32_MAX } as const;

const nullable = (t: string | string[]) => ({ type: [...(Array.isArray(t) ? t : [t]), "null"] });

const common = {
  model: { type: "string", minLength: 1 },
  stream: nullable("boolean"),
  stream_options: {
    type: ["object", "null"],
    properties: { include_usage: nullable("boolean"), continuous_usage_stats: nullable("boolean") },
  },
  max_tokens: tokenLimit,
  temperature: nullable("number"),
  top_p: nullable("number"),
  n: { type: ["integer", "null"], minimum: 1, maximum: 128 },
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
    max_completion_tokens: tokenLimit,
    logprobs: nullable("boolean"),
    top_logprobs: { type: ["integer", "null"], minimum: 0, maximum: 20 },
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
            anyOf: [{ type: "string" }, tokenId, { type: "array", items: tokenId }],
          },
        },
      ],
    },
    echo: nullable("boolean"),
    logprobs: nullable("integer"),
    suffix: nullable("string"),
    best_of: { type: ["integer", "null"], minimum: 1, maximum: 128 },
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
