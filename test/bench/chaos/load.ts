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
  /**
   * More gateway replicas, used in turn as a load balancer would: a refused connection (replica
   * down) is retried at once on the next replica, which is what balancers do for connect failures.
   */
  moreGateways?: string[];
  /**
   * Words of the user message unique to each request (default: a two-word question, shorter
   * than a block). A few dozen make every request store new blocks, so KV events keep flowing.
   */
  questionWords?: number;
  /**
   * Send x-request-id `<prefix>-<n>` and record the gateway's id for the request
   * (x-inferd-request-id, else the sent id) in each sample, so decisions can be traced.
   */
  requestIdPrefix?: string;
}

/** A system prompt of roughly 1,800 tokens, distinct per group. */
function systemPrompt(group: number): string {
  return Array.from({ length: 120 }, (_, i) => `Rule ${i} of group ${group}: answer precisely.`).join(" ");
}

function question(n: number, words: number): string {
  if (words <= 0) return `question ${n}`;
  return Array.from({ length: words }, (_, i) => `q${n}w${i}`).join(" ");
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
      const requestId = this.#opts.requestIdPrefix ? `${this.#opts.requestIdPrefix}-${n}` : undefined;
      if (requestId) sample.requestId = requestId;
      try {
        const res = await this.#send(n, {
          method: "POST",
          dispatcher: this.#agent,
          headers: {
            "content-type": "application/json",
            ...(requestId ? { "x-request-id": requestId } : {}),
          },
          body: JSON.stringify({
            model: this.#opts.model,
            messages: [
              { role: "system", content: systemPrompt(group) },
              { role: "user", content: question(n, this.#opts.questionWords ?? 0) },
            ],
            max_tokens: this.#opts.maxTokens,
          }),
        });
        const body = (await res.body.json().catch(() => ({}))) as {
          usage?: { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };
        };
        sample.status = res.statusCode;
        // The gateway names the request in its lifecycle events by its own id (the client's
        // x-request-id is only echoed), so decisions are traced by that one.
        const gatewayId = res.headers["x-inferd-request-id"];
        if (requestId && typeof gatewayId === "string") sample.requestId = gatewayId;
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

  /** Request n goes to gateway n mod replicas; a refused connection moves on to the next replica. */
  async #send(n: number, options: Parameters<typeof request>[1]): ReturnType<typeof request> {
    const gateways = [this.#opts.gateway, ...(this.#opts.moreGateways ?? [])];
    for (let i = 0; ; i++) {
      const gateway = gateways[(n + i) % gateways.length]!;
      try {
        return await request(`${gateway}/v1/chat/completions`, options);
      } catch (err) {
        const refused = (err as { code?: string }).code === "ECONNREFUSED";
        if (!refused || i + 1 >= gateways.length) throw err;
      }
    }
  }
}
