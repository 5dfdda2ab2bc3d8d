/** Chat requests with a long shared system prompt: what the prefix-routing e2e tests send. */
import { request } from "undici";

export const MODEL = "Qwen/Qwen3-32B";

/** A system prompt of roughly `sentences` x 15 tokens, distinct per `tag`. */
export function longPrompt(tag: string, sentences = 120): string {
  return Array.from(
    { length: sentences },
    (_, i) => `Rule ${i} of ${tag}: answer precisely and cite the policy.`,
  ).join(" ");
}

export interface Served {
  endpoint: string | undefined;
  cached: number;
  status: number;
}

export async function chat(gateway: string, system: string, question: string): Promise<Served> {
  const res = await request(`${gateway}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL,
      messages: [
        { role: "system", content: system },
        { role: "user", content: question },
      ],
      max_tokens: 4,
    }),
  });
  const body = (await res.body.json()) as { usage?: { prompt_tokens_details?: { cached_tokens?: number } } };
  return {
    endpoint: res.headers["x-inferd-endpoint"] as string | undefined,
    cached: body.usage?.prompt_tokens_details?.cached_tokens ?? 0,
    status: res.statusCode,
  };
}
