import type { ModelTarget } from "../domain/inventory.ts";
import type { ModelPolicy } from "../domain/model-policy.ts";
import type { ApiKind, OpenAiBody, PromptForPick } from "../domain/openai-body.ts";
import type { HeaderBag, RequestMeta } from "../domain/request-meta.ts";
import type { Usage } from "../domain/stream-observer.ts";

/** One upstream target: a pod and its base URL. */
export interface Target {
  pod: string;
  address: string;
  /** Prompt tokens the scorer expects this pod to serve from its prefix cache (0 = unknown). */
  cachedTokens?: number;
}

/** Where a request goes: endpoints best first, plus a prefill endpoint under P/D. */
export interface Route {
  endpoints: Target[];
  prefill: Target | undefined;
  /** "scorer" when the scorer chose, "local" for a FailOpen or scorer-less pick. */
  source: "scorer" | "local";
}

/** Everything known about one request while the gateway handles it. */
export interface RequestContext {
  kind: ApiKind;
  /** Upstream path, e.g. /v1/chat/completions. */
  path: string;
  body: OpenAiBody;
  /** The body's bytes as the client sent them (JSON bodies; undefined when unknown). */
  rawBody?: Buffer | undefined;
  promptForPick: PromptForPick;
  meta: RequestMeta;
  /** The client's request headers, the source of the end-to-end headers sent upstream. */
  clientHeaders: HeaderBag;
  target: ModelTarget;
  policy: ModelPolicy;
  stream: boolean;
  maxTokens: number;
  /** performance.now() when the handler started. */
  startedAt: number;
  /** Time spent waiting in flow control, ms. */
  queuedMs: number;
  /** Time spent in the P/D prefill leg, ms. */
  prefillMs: number;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Pod that served (decode leg), set once an upstream answered. */
  endpoint: string;
  /** The scorer's expected cached prompt tokens on `endpoint`, until usage reports the real count. */
  expectedCachedTokens: number;
  prefillEndpoint: string;
  usage: Usage | undefined;
  /** Prompt tokens before usage is known: the scorer's count, else a 4-chars-per-token estimate. */
  promptTokensEstimate: number;
  /** Time (performance.now()) of the first token, when streaming. */
  firstTokenAt: number | undefined;
}

/**
 * The identity headers of every answer: the client's x-request-id echoed (the gateway's id when the
 * client sent none) and the gateway's own id, which names the request in events, logs and upstream.
 */
export function responseIdentity(ctx: Pick<RequestContext, "meta">): Record<string, string> {
  return {
    "x-request-id": ctx.meta.clientRequestId || ctx.meta.requestId,
    "x-inferd-request-id": ctx.meta.requestId,
  };
}
