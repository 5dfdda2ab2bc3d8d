/**
 * Incremental Server-Sent-Events reader for OpenAI-style streams: bytes in, `data:` payloads out.
 * Events end at a blank line; "\r\n" and "\n" line ends are both accepted.
 */
export class SseReader {
  private buffer = "";
  private data: string[] = [];

  /** Feeds decoded text; returns the data payloads of the events it completed. */
  push(text: string): string[] {
    this.buffer += text;
    const out: string[] = [];
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl < 0) break;
      let line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (this.data.length > 0) out.push(this.data.join("\n"));
        this.data = [];
      } else if (line.startsWith("data:")) {
        this.data.push(line.slice(line[5] === " " ? 6 : 5));
      }
      // Comments (":") and other fields (event:, id:, retry:) carry nothing the benchmark needs.
    }
    return out;
  }

  /** Data of an event not terminated by a blank line when the stream ended, if any. */
  end(): string[] {
    const rest = this.buffer.trim();
    if (rest.startsWith("data:")) this.data.push(rest.slice(rest[5] === " " ? 6 : 5));
    this.buffer = "";
    const out = this.data.length > 0 ? [this.data.join("\n")] : [];
    this.data = [];
    return out;
  }
}

export interface ChunkInfo {
  /** Generated text in this chunk ("" for role-only, usage-only or finish chunks). */
  readonly content: string;
  readonly usage: {
    readonly promptTokens: number | null;
    readonly completionTokens: number | null;
    readonly cachedTokens: number | null;
  } | null;
  readonly error: string | null;
}

/** Reads one chat.completion.chunk or text_completion chunk (JSON), or an error object sent mid-stream. */
export function parseChunk(json: string): ChunkInfo {
  const o = JSON.parse(json) as Record<string, unknown>;
  if (o.error !== undefined && o.error !== null) {
    const e = o.error as Record<string, unknown>;
    return { content: "", usage: null, error: typeof e.message === "string" ? e.message : JSON.stringify(e) };
  }
  let content = "";
  const choices = o.choices;
  if (Array.isArray(choices) && choices.length > 0) {
    const c = choices[0] as Record<string, unknown>;
    if (typeof c.text === "string") content = c.text;
    else if (c.delta && typeof (c.delta as Record<string, unknown>).content === "string")
      content = (c.delta as Record<string, unknown>).content as string;
  }
  let usage: ChunkInfo["usage"] = null;
  if (o.usage && typeof o.usage === "object") {
    const u = o.usage as Record<string, unknown>;
    const details = u.prompt_tokens_details as Record<string, unknown> | null | undefined;
    usage = {
      promptTokens: typeof u.prompt_tokens === "number" ? u.prompt_tokens : null,
      completionTokens: typeof u.completion_tokens === "number" ? u.completion_tokens : null,
      cachedTokens: details && typeof details.cached_tokens === "number" ? details.cached_tokens : null,
    };
  }
  return { content, usage, error: null };
}
