import { describe, expect, it } from "vitest";
import { canAssemble, StreamAssembler, streamingBody } from "../../src/domain/stream-assembler.ts";

const chat = (choices: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 7, model: "m", choices, ...extra });

describe("stream-assembler", () => {
  it("stream-assembler - chat chunks become the non-streaming answer: content, reasoning, tool calls, logprobs, usage", () => {
    const a = new StreamAssembler("chat");
    a.push(
      chat([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], { usage: null }),
    );
    a.push(chat([{ index: 0, delta: { reasoning_content: "think " }, finish_reason: null }]));
    a.push(chat([{ index: 0, delta: { reasoning_content: "more" }, finish_reason: null }]));
    a.push(
      chat([
        {
          index: 0,
          delta: { content: "Hel" },
          logprobs: { content: [{ token: "Hel", logprob: -0.1 }] },
          finish_reason: null,
        },
      ]),
    );
    a.push(
      chat([{ index: 0, delta: { content: "lo" }, logprobs: { content: [{ token: "lo", logprob: -0.2 }] } }]),
    );
    a.push(
      chat([
        {
          index: 0,
          delta: {
            tool_calls: [
              { index: 0, id: "call_1", type: "function", function: { name: "get", arguments: '{"a"' } },
            ],
          },
        },
      ]),
    );
    a.push(chat([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ":1}" } }] } }]));
    a.push(chat([{ index: 0, delta: {}, finish_reason: "tool_calls", stop_reason: null }]));
    a.push(chat([], { usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } }));
    a.push("[DONE]");
    expect(a.result()).toEqual({
      id: "c1",
      object: "chat.completion",
      created: 7,
      model: "m",
      choices: [
        {
          index: 0,
          // vLLM 0.34's ChatMessage fields; the reasoning keeps the name the deltas used.
          message: {
            role: "assistant",
            content: "Hello",
            refusal: null,
            audio: null,
            function_call: null,
            tool_calls: [{ id: "call_1", type: "function", function: { name: "get", arguments: '{"a":1}' } }],
            reasoning_content: "think more",
          },
          logprobs: {
            content: [
              { token: "Hel", logprob: -0.1 },
              { token: "lo", logprob: -0.2 },
            ],
          },
          finish_reason: "tool_calls",
          stop_reason: null,
          token_ids: null,
          routed_experts: null,
          weight_versions: null,
        },
      ],
      service_tier: null,
      system_fingerprint: null,
      usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9, completion_tokens_details: null },
      prompt_logprobs: null,
      prompt_token_ids: null,
      prompt_text: null,
      kv_transfer_params: null,
      ec_transfer_params: null,
      metrics: null,
    });
  });

  it("stream-assembler - fields the stream carries (token ids, prompt token ids, fingerprint, KV params) reach the answer", () => {
    const a = new StreamAssembler("chat");
    a.push(chat([{ index: 0, delta: { role: "assistant", content: "" } }], { prompt_token_ids: [1, 2, 3] }));
    a.push(chat([{ index: 0, delta: { reasoning: "r" }, token_ids: [7] }]));
    a.push(chat([{ index: 0, delta: { content: "x" }, token_ids: [8] }]));
    a.push(
      chat([{ index: 0, delta: {}, finish_reason: "stop", weight_versions: [{ version: 1 }] }], {
        system_fingerprint: "fp",
        kv_transfer_params: { remote: true },
      }),
    );
    const r = a.result() as Record<string, unknown> & { choices: Record<string, unknown>[] };
    expect(r.prompt_token_ids).toEqual([1, 2, 3]);
    expect(r.system_fingerprint).toBe("fp");
    expect(r.kv_transfer_params).toEqual({ remote: true });
    expect(r.choices[0]!.token_ids).toEqual([7, 8]);
    expect(r.choices[0]!.weight_versions).toEqual([{ version: 1 }]);
    // vLLM 0.34 names it `reasoning`; no tool call, so no `tool_calls` key.
    expect(r.choices[0]!.message).toEqual({
      role: "assistant",
      content: "x",
      refusal: null,
      audio: null,
      function_call: null,
      reasoning: "r",
    });
  });

  it("stream-assembler - several choices (n > 1) stay apart; no content delta means content null", () => {
    const a = new StreamAssembler("chat");
    a.push(chat([{ index: 1, delta: { content: "b" } }]));
    a.push(
      chat([
        {
          index: 0,
          delta: { tool_calls: [{ index: 0, id: "t", function: { name: "f", arguments: "{}" } }] },
        },
      ]),
    );
    a.push(chat([{ index: 1, delta: {}, finish_reason: "stop" }]));
    const r = a.result() as { choices: { index: number; message: { content: unknown } }[] };
    expect(r.choices.map((c) => [c.index, c.message.content])).toEqual([
      [0, null],
      [1, "b"],
    ]);
  });

  it("stream-assembler - completions chunks become a text_completion", () => {
    const a = new StreamAssembler("completions");
    const c = (text: string, finish: string | null) =>
      JSON.stringify({
        id: "x",
        object: "text_completion",
        created: 1,
        model: "m",
        choices: [{ index: 0, text, finish_reason: finish, logprobs: null }],
      });
    a.push(c("a", null));
    a.push(c("b", "length"));
    expect(a.result()).toMatchObject({
      object: "text_completion",
      choices: [{ index: 0, text: "ab", finish_reason: "length", logprobs: null }],
    });
  });

  it("stream-assembler - only bodies whose answer can be rebuilt exactly are converted", () => {
    const body = { model: "m", messages: [] };
    expect(canAssemble("chat", body)).toBe(true);
    expect(canAssemble("chat", { ...body, stream: true })).toBe(false);
    for (const k of ["prompt_logprobs", "echo", "best_of", "use_beam_search", "kv_transfer_params"])
      expect(canAssemble("chat", { ...body, [k]: k === "prompt_logprobs" ? 1 : true })).toBe(false);
    expect(canAssemble("completions", { model: "m", prompt: "x", logprobs: 2 })).toBe(false);
    expect(canAssemble("chat", { ...body, logprobs: true })).toBe(true);
    expect(streamingBody(body)).toEqual({ ...body, stream: true, stream_options: { include_usage: true } });
  });
});
