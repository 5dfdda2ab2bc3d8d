import { chatRequestFromProto } from "@inferd/kv-blocks";
import {
  type Endpoint as EndpointMsg,
  EndpointRole,
  type KvLookupRequest,
  KvLookupRequestSchema,
  type KvLookupResponse,
  make,
  PickOutcome as PickOutcomeMsg,
  type PickRequest,
  type PickResponse,
  PickResponseSchema,
  type RequestEvent,
  RequestPhase,
} from "@inferd/protocol";
import type { KvLookupAnswer, KvLookupQuery } from "../framework/handle.ts";
import type { EndpointInfo, PickOutcome, Prompt, Role } from "../framework/types.ts";
import type { PickInput, PickResult } from "../pick/pick-service.ts";
import type { LifecycleEvent, LifecyclePhase } from "../state/inflight.ts";

/** Wire <-> domain conversions, kept apart so the domain never sees protobuf types. */

export function roleOf(role: EndpointRole): Role {
  return role === EndpointRole.PREFILL ? "prefill" : role === EndpointRole.DECODE ? "decode" : "both";
}

export function endpointInfoFromMsg(e: EndpointMsg): EndpointInfo {
  return {
    model: e.model,
    pod: e.pod,
    address: e.address.replace(/\/+$/, ""),
    role: roleOf(e.role),
    loraAdapters: [...e.loraAdapters],
    ready: e.ready,
    labels: { ...e.labels },
    blockSize: e.blockSize,
    publishesKvEvents: e.kvEventsEndpoint.length > 0,
    maxLoras: e.maxLoras,
  };
}

export function promptOf(req: PickRequest): Prompt {
  const p = req.prompt;
  switch (p.case) {
    case "text":
      return { kind: "text", text: p.value };
    case "chat": {
      const base = {
        kind: "chat" as const,
        messages: p.value.messages.map((m) => ({ role: m.role, content: m.content })),
        addGenerationPrompt: p.value.addGenerationPrompt ?? true,
      };
      try {
        return { ...base, request: chatRequestFromProto(p.value) };
      } catch (err) {
        return { ...base, requestError: (err as Error).message };
      }
    }
    case "tokens":
      return { kind: "tokens", ids: p.value.ids };
    default:
      return { kind: "none" };
  }
}

export function pickInputFromMsg(req: PickRequest): PickInput {
  return {
    requestId: req.requestId,
    model: req.model,
    prompt: promptOf(req),
    sessionId: req.sessionId,
    priority: req.priority,
    sloTtftMs: req.sloTtftMs,
    sloTpotMs: req.sloTpotMs,
    maxTokens: req.maxTokens,
    excludePods: [...req.excludePods],
    cacheSalt: req.cacheSalt,
  };
}

const OUTCOMES: Record<PickOutcome, PickOutcomeMsg> = {
  OK: PickOutcomeMsg.OK,
  NO_ENDPOINTS: PickOutcomeMsg.NO_ENDPOINTS,
  SATURATED: PickOutcomeMsg.SATURATED,
  PD_UNAVAILABLE: PickOutcomeMsg.PD_UNAVAILABLE,
  SLO_UNATTAINABLE: PickOutcomeMsg.SLO_UNATTAINABLE,
};

/**
 * The PickResponse of a pick; `omitCandidates` (the request asked so) leaves out every candidate's
 * per-plugin scores, the bulk of the message (~15 KB and ~0.2 ms of CPU at 100 endpoints).
 */
export function pickResponseToMsg(r: PickResult, opts: { omitCandidates?: boolean } = {}): PickResponse {
  const choice = (c: PickResult["endpoints"][number]) => ({
    pod: c.pod,
    address: c.address,
    score: c.score,
    cachedTokens: c.cachedTokens,
  });
  return make(PickResponseSchema, {
    outcome: OUTCOMES[r.outcome],
    message: r.message,
    endpoints: r.endpoints.map(choice),
    ...(r.prefill ? { prefill: choice(r.prefill) } : {}),
    candidates: (opts.omitCandidates ? [] : r.candidates).map((c) => ({
      pod: c.pod,
      scores: Object.fromEntries(c.scores),
      total: c.total,
      filteredBy: c.filteredBy,
    })),
    profile: r.profile,
    promptTokens: r.promptTokens,
    pickSeconds: r.seconds,
  });
}

const PHASES: Partial<Record<RequestPhase, LifecyclePhase>> = {
  [RequestPhase.ADMITTED]: "admitted",
  [RequestPhase.ROUTED]: "routed",
  [RequestPhase.FIRST_TOKEN]: "first_token",
  [RequestPhase.COMPLETED]: "completed",
  [RequestPhase.FAILED]: "failed",
};

/** Undefined for phases in-flight accounting does not know (UNSPECIFIED or newer ones). */
export function lifecycleFromMsg(ev: RequestEvent): LifecycleEvent | undefined {
  const phase = PHASES[ev.phase];
  if (!phase) return undefined;
  return {
    requestId: ev.requestId,
    phase,
    baseModel: ev.baseModel || ev.model,
    endpoint: ev.endpoint,
    prefillEndpoint: ev.prefillEndpoint,
    sessionId: ev.sessionId,
    promptTokens: ev.promptTokens,
    cachedTokens: ev.cachedTokens,
    ttftSeconds: ev.ttftSeconds,
    queueSeconds: ev.queueSeconds,
    itlMeanSeconds: ev.itlMeanSeconds,
  };
}

export function kvLookupRequestOf(q: KvLookupQuery): KvLookupRequest {
  const p = q.prompt;
  const base = {
    model: q.model,
    loraName: q.lora ?? "",
    candidatePods: [...q.candidatePods],
    cacheSalt: q.cacheSalt,
  };
  if (q.tokens)
    return make(KvLookupRequestSchema, {
      ...base,
      prompt: { case: "tokens", value: { ids: toArray(q.tokens) } },
    });
  switch (p.kind) {
    case "text":
      return make(KvLookupRequestSchema, { ...base, prompt: { case: "text", value: p.text } });
    case "chat":
      return make(KvLookupRequestSchema, {
        ...base,
        prompt: {
          case: "chat",
          value: {
            messages: (p.request?.messages ?? p.messages).map((m) => {
              const { role, content, ...extra } = m as { role: string; content: string };
              return { role, content, extraJson: Object.keys(extra).length > 0 ? JSON.stringify(extra) : "" };
            }),
            addGenerationPrompt: p.addGenerationPrompt,
            toolsJson: p.request?.tools ? JSON.stringify(p.request.tools) : "",
            chatTemplateKwargsJson: p.request?.chatTemplateKwargs
              ? JSON.stringify(p.request.chatTemplateKwargs)
              : "",
            continueFinalMessage: p.request?.continueFinalMessage ?? false,
            documentsJson: p.request?.documents ? JSON.stringify(p.request.documents) : "",
          },
        },
      });
    case "tokens":
      return make(KvLookupRequestSchema, {
        ...base,
        prompt: { case: "tokens", value: { ids: toArray(p.ids) } },
      });
    default:
      return make(KvLookupRequestSchema, base);
  }
}

/** Plain array of token ids (a plain loop is several times faster than Array.from on typed arrays). */
function toArray(ids: ArrayLike<number>): number[] {
  if (Array.isArray(ids)) return ids as number[];
  const out = new Array<number>(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = ids[i]!;
  return out;
}

export function kvLookupAnswerOf(r: KvLookupResponse): KvLookupAnswer {
  return {
    totalBlocks: r.totalBlocks,
    blockSize: r.blockSize,
    promptTokens: r.promptTokens,
    pods: r.pods.map((p) => ({
      pod: p.pod,
      gpuBlocks: p.gpuBlocks,
      cpuBlocks: p.cpuBlocks,
      matchedBlocks: p.matchedBlocks,
    })),
  };
}
