import { describe, expect, it } from "vitest";
import {
  decodeBody,
  kvTransferParamsOf,
  maxTokensOf,
  prefillBody,
  promptForPick,
  upstreamBody,
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
});
