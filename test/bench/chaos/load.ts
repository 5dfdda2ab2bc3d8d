import { Agent, request } from "undici";
import type { Sample } from "./figures.ts";

export interface LoadOptions {
  gateway: string;
  model: string;
  /** Concurrent clients, each sending its next request when the previous one ended. */
  clients: number;
  /** Distinct long system prompts (prefix groups) the requests share. */
  groups: number;
  maxTokens: number;
}

/** A system prompt of roughly 1,800 tokens, distinct per group. */
function systemPrompt(group: number): string {
  return Array.from({ length: 120 }, (_, i) => `Rule ${i} of group ${group}: answer precisely.`).join(" ");
}

/**
 * Steady closed-loop load through the gateway: `clients` loops of chat requests over `groups`
 * shared system prompts (so routing quality shows as a prefix-cache hit rate). Records one
 * Sample per request; a failed connection waits 50 ms before the next try, so a dead gateway
 * costs a bounded number of attempts.
 */
export class SteadyLoad {
  readonly samples: Sample[] = [];
  readonly #opts: LoadOptions;
  readonly #agent = new Agent({ connections: 64, headersTimeout: 30_000, bodyTimeout: 30_000 });
  #running = false;
  #loops: Promise<void>[] = [];
  #n = 0;

  constructor(opts: LoadOptions) {
    this.#opts = opts;
  }

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.#opts.clients }, () => this.#loop());
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    await this.#agent.close();
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const n = this.#n++;
      const group = n % this.#opts.groups;
      const startMs = performance.now();
      const sample: Sample = { startMs, endMs: 0, status: 0, promptTokens: 0, cachedTokens: 0 };
      try {
        const res = await request(`${this.#opts.gateway}/v1/chat/completions`, {
          method: "POST",
          dispatcher: this.#agent,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: this.#opts.model,
            messages: [
              { role: "system", content: systemPrompt(group) },
              { role: "user", content: `question ${n}` },
            ],
            max_tokens: this.#opts.maxTokens,
          }),
        });
        const body = (await res.body.json().catch(() => ({}))) as {
          usage?: { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };
        };
        sample.status = res.statusCode;
        sample.promptTokens = body.usage?.prompt_tokens ?? 0;
        sample.cachedTokens = body.usage?.prompt_tokens_details?.cached_tokens ?? 0;
      } catch {
        sample.status = 0;
      }
      sample.endMs = performance.now();
      this.samples.push(sample);
      if (sample.status === 0) await new Promise((r) => setTimeout(r, 50));
    }
  }
}
