import { CycleState } from "../src/framework/cycle.ts";
import type { Handle, LatencyPredictor, TtftModel } from "../src/framework/handle.ts";
import { Params } from "../src/framework/params.ts";
import type {
  Endpoint,
  EndpointInfo,
  EndpointMetrics,
  InflightLoad,
  PrefixMatch,
  SchedulingRequest,
} from "../src/framework/types.ts";
import { SessionStore } from "../src/state/sessions.ts";

export function info(pod: string, over: Partial<EndpointInfo> = {}): EndpointInfo {
  return {
    model: "m",
    pod,
    address: `http://${pod}:8000`,
    role: "both",
    loraAdapters: [],
    ready: true,
    labels: {},
    blockSize: 16,
    publishesKvEvents: true,
    maxLoras: 0,
    ...over,
  };
}

export function metrics(over: Partial<EndpointMetrics> = {}): EndpointMetrics {
  return { runningLoras: [], waitingLoras: [], scrapedAtMs: 0, ...over };
}

export function ep(
  pod: string,
  opts: {
    metrics?: Partial<EndpointMetrics> | undefined;
    inflight?: Partial<InflightLoad>;
    info?: Partial<EndpointInfo>;
    unreachable?: boolean;
  } = {},
): Endpoint {
  return {
    pod,
    info: info(pod, opts.info),
    metrics: opts.metrics === undefined ? undefined : metrics(opts.metrics),
    unreachable: opts.unreachable ?? false,
    inflight: { requests: 0, tokens: 0, prefillTokens: 0, ...opts.inflight },
  };
}

export function request(over: Partial<SchedulingRequest> = {}): SchedulingRequest {
  return {
    requestId: "r1",
    model: "m",
    baseModel: "m",
    lora: undefined,
    sessionId: "",
    priority: 0,
    sloTtftMs: undefined,
    sloTpotMs: undefined,
    maxTokens: 0,
    cacheSalt: "",
    prompt: { kind: "none" },
    ...over,
  };
}

/** A cycle with a known prompt length and prefix matches in blocks of 16 tokens. */
export function cycle(
  opts: {
    request?: Partial<SchedulingRequest>;
    promptTokens?: number;
    matches?: Record<string, number>;
    random?: () => number;
  } = {},
): CycleState {
  const c = new CycleState(request(opts.request), 1_000, opts.random ?? (() => 0.5));
  c.promptTokens = opts.promptTokens ?? 0;
  if (opts.matches) {
    const m = new Map<string, PrefixMatch>();
    for (const [pod, blocks] of Object.entries(opts.matches)) {
      m.set(pod, { matchedBlocks: blocks, gpuBlocks: blocks, cpuBlocks: 0, source: "precise" });
    }
    c.prefix = { totalBlocks: Math.floor(c.promptTokens / 16), blockSize: 16, matches: m };
  }
  return c;
}

/** TTFT = 10 ms + 1 ms per 100 tokens of (uncached + queued): simple enough to check by hand. */
export const linearTtft: TtftModel = {
  predictTtftMs: (_model, _profile, f) => 10 + (f.uncachedTokens + f.queuedPrefillTokens) / 100,
};

/** TTFT as linearTtft; TPOT = 5 ms + 1 ms per request in flight. */
export const linearLatency: LatencyPredictor = {
  predict: (_model, _profile, f) => ({
    ttftMs: 10 + (f.uncachedTokens + f.queuedPrefillTokens) / 100,
    tpotMs: 5 + f.inflightRequests,
  }),
};

export function handle(over: Partial<Handle> = {}): Handle {
  return {
    ttft: linearTtft,
    latency: linearLatency,
    sessions: new SessionStore(),
    kvLookup: undefined,
    tokenizer: undefined,
    plugin: () => undefined,
    ...over,
  };
}

export function params(type: string, raw: unknown, name = type): Params {
  return new Params(type, name, raw);
}
