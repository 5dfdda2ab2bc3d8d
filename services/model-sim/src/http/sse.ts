import type { ServerResponse } from "node:http";
import type { Usage } from "./responses.ts";

/** Server-sent events as vLLM writes them: `data: <json>\n\n` per chunk, `data: [DONE]` at the end. */
export class SseStream {
  private readonly raw: ServerResponse;
  private readonly base: { id: string; object: string; created: number; model: string };
  private ended = false;

  constructor(raw: ServerResponse, base: { id: string; object: string; created: number; model: string }) {
    this.raw = raw;
    this.base = base;
    // The client may go away at any time; nothing is written after that.
    raw.once("close", () => {
      this.ended = true;
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  open(headers: Record<string, string>): void {
    this.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      ...headers,
    });
  }

  /** One chunk; `extra` adds top-level fields (vLLM 0.34: kv_transfer_params on choice chunks). */
  chunk(choices: unknown[], usage?: Usage, extra?: Record<string, unknown>): void {
    if (this.ended) return;
    const body = { ...this.base, choices, ...(usage ? { usage } : {}), ...extra };
    this.raw.write(`data: ${JSON.stringify(body)}\n\n`);
  }

  done(): void {
    if (this.ended) return;
    this.raw.write("data: [DONE]\n\n");
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.raw.end();
  }
}
