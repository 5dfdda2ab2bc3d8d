import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeBody,
  kvTransferParamsOf,
  maxTokensOf,
  prefillBody,
  promptForPick,
  upstreamBody,
  upstreamPayload,
} from "../../src/domain/openai-body.ts";

const M = "m";

describe("openai-body", () => {
  it("openai-body - streams ask the model server for usage; other bodies are unchanged", () => {
    const plain = { model: M, messages: [], stream: false };
    expect(upstreamBody(plain)).toBe(plain);
    const asked = { model: M, stream: true, stream_options: { include_usage: true } };
    expect(upstreamBody(asked)).toBe(asked);
    const body = { model: M, stream: true, stream_options: { continuous_usage_stats: false } };
    expect(upstreamBody(body)).toEqual({
      model: M,
      stream: true,
      stream_options: { continuous_usage_stats: false, include_usage: true },
    });
    expect(body.stream_options).toEqual({ continuous_usage_stats: false });
  });

  it("openai-body - prefill leg: do_remote_decode, one token, no stream, stream_options removed", () => {
    const body = {
      model: M,
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
      max_completion_tokens: 60,
      temperature: 0.2,
    };
    expect(prefillBody(body)).toEqual({
      model: M,
      messages: [{ role: "user", content: "hi" }],
      stream: false,
      max_tokens: 1,
      max_completion_tokens: 1,
      temperature: 0.2,
      kv_transfer_params: {
        do_remote_decode: true,
        do_remote_prefill: false,
        remote_engine_id: null,
        remote_block_ids: null,
        remote_host: null,
        remote_port: null,
      },
    });
    // The original is untouched for the decode leg.
    expect(body.max_tokens).toBe(50);
    expect(body.stream).toBe(true);
  });

  it("openai-body - decode leg: original body plus the prefill's params verbatim", () => {
    const params = {
      do_remote_prefill: true,
      remote_block_ids: [[1, 2]],
      remote_engine_id: "e",
      unknown_future_key: 7,
    };
    const prefillResponse = { id: "x", choices: [], kv_transfer_params: params };
    const got = kvTransferParamsOf(prefillResponse);
    expect(got).toBe(params);
    const body = { model: M, prompt: "p", stream: true, max_tokens: 9 };
    expect(decodeBody(body, got)).toEqual({ ...body, kv_transfer_params: params });
    expect(kvTransferParamsOf({ kv_transfer_params: null })).toBeUndefined();
    expect(kvTransferParamsOf("nope")).toBeUndefined();
  });

  it("openai-body - prompt for the scorer: chat parts flattened, token ids kept, batches use the first", () => {
    expect(
      promptForPick("chat", {
        model: M,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "a" },
              { type: "text", text: "b" },
            ],
          },
        ],
      }),
    ).toEqual({ case: "chat", messages: [{ role: "user", content: "a\nb" }] });
    expect(promptForPick("completions", { model: M, prompt: [1, 2, 3] })).toEqual({
      case: "tokens",
      ids: [1, 2, 3],
    });
    expect(promptForPick("completions", { model: M, prompt: ["first", "second"] })).toEqual({
      case: "text",
      text: "first",
    });
    // The whole chat request reaches the scorer's chat template: message extras, tools, kwargs, flags.
    const call = { id: "c1", type: "function", function: { name: "f", arguments: "{}" } };
    expect(
      promptForPick("chat", {
        model: M,
        messages: [
          { role: "user", content: "q" },
          { role: "assistant", content: null, tool_calls: [call] },
        ],
        tools: [{ type: "function", function: { name: "f" } }],
        chat_template_kwargs: { enable_thinking: false },
        add_generation_prompt: false,
        continue_final_message: true,
      }),
    ).toEqual({
      case: "chat",
      messages: [
        { role: "user", content: "q" },
        { role: "assistant", content: "", extraJson: JSON.stringify({ tool_calls: [call] }) },
      ],
      template: {
        addGenerationPrompt: false,
        continueFinalMessage: true,
        toolsJson: JSON.stringify([{ type: "function", function: { name: "f" } }]),
        chatTemplateKwargsJson: JSON.stringify({ enable_thinking: false }),
        documentsJson: "",
      },
    });
    expect(maxTokensOf({ model: M, max_tokens: 5 })).toBe(5);
    expect(maxTokensOf({ model: M, max_completion_tokens: 8, max_tokens: 5 })).toBe(8);
    expect(maxTokensOf({ model: M })).toBe(0);
  });

  it("openai-body - upstream payload: the client's bytes, with the usage member appended only when a stream lacks stream_options", () => {
    const text = (b: Buffer | string) => (typeof b === "string" ? b : b.toString("utf8"));
    // Unchanged bodies go on byte for byte (formatting, number spelling, big integers kept).
    const raw = Buffer.from('{ "model" : "m", "max_tokens": 1e2, "seed": 12345678901234567890 }\n');
    const parsed = JSON.parse(raw.toString("utf8"));
    expect(upstreamPayload(parsed, raw)).toBe(raw);
    // A stream that did not ask for usage: the member goes before the closing brace.
    const s = Buffer.from('{"model":"m","stream":true, "messages":[{"role":"user","content":"é}"}]} \r\n');
    expect(text(upstreamPayload(JSON.parse(s.toString("utf8")), s))).toBe(
      '{"model":"m","stream":true, "messages":[{"role":"user","content":"é}"}],"stream_options":{"include_usage":true}} \r\n',
    );
    // The client asked for usage already: unchanged.
    const asked = Buffer.from('{"model":"m","stream":true,"stream_options":{"include_usage":true}}');
    expect(upstreamPayload(JSON.parse(asked.toString("utf8")), asked)).toBe(asked);
    // stream_options to merge into, a BOM, bytes that are not UTF-8, or no bytes: re-serialised.
    const merge = { model: "m", stream: true, stream_options: { continuous_usage_stats: true } };
    expect(upstreamPayload(merge, Buffer.from(JSON.stringify(merge)))).toBe(
      JSON.stringify(upstreamBody(merge)),
    );
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"model":"m"}')]);
    expect(upstreamPayload({ model: "m" }, bom)).toBe('{"model":"m"}');
    const latin1 = Buffer.from('{"model":"m","user":"\xe9"}', "latin1");
    const replaced = JSON.parse(latin1.toString("utf8"));
    expect(upstreamPayload(replaced, latin1)).toBe(JSON.stringify(replaced));
    expect(upstreamPayload({ model: "m", stream: true }, undefined)).toBe(
      '{"model":"m","stream":true,"stream_options":{"include_usage":true}}',
    );
  });

  it("openai-body - upstream payload reads as upstreamBody for any body and any formatting", () => {
    const value = fc.jsonValue({ maxDepth: 2 });
    const body = fc.record(
      {
        model: fc.string(),
        stream: fc.oneof(fc.boolean(), value),
        stream_options: fc.oneof(
          fc.constant(null),
          fc.record({ include_usage: fc.oneof(fc.boolean(), value) }),
        ),
        messages: fc.array(fc.record({ role: fc.string(), content: fc.string() })),
        extra: value,
      },
      { requiredKeys: ["model"] },
    );
    fc.assert(
      fc.property(
        body,
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom("", " ", "\n", "\t\r\n"),
        (b, indent, tail) => {
          const raw = Buffer.from(JSON.stringify(b, null, indent) + tail);
          const parsed = JSON.parse(raw.toString("utf8"));
          const out = upstreamPayload(parsed, raw);
          expect(JSON.parse(typeof out === "string" ? out : out.toString("utf8"))).toEqual(
            upstreamBody(parsed),
          );
          if (upstreamBody(parsed) === parsed) expect(out).toBe(raw);
        },
      ),
    );
  });
});
