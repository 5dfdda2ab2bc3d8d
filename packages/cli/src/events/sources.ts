import {
  DemandSchema,
  type DescMessage,
  EndpointLoadSchema,
  EndpointSchema,
  escapeToken,
  KvEventBatchSchema,
  RequestEventSchema,
  ScaleDecisionSchema,
  type Subjects,
} from "@inferd/protocol";

/**
 * Every event source of the contract (docs/events/asyncapi.yaml) that `inferd events tail` can
 * follow: JetStream streams (with history), core subjects (live only) and the inventory bucket
 * (read through its backing stream, so it tails like any other).
 */
export interface EventSource {
  name: string;
  description: string;
  kind: "stream" | "core";
  /** JetStream stream holding the subjects (kind "stream"); its name carries the subject prefix. */
  stream?(s: Subjects): string;
  /** Subject filter: all models, or one model's subjects. */
  filter(s: Subjects, model?: string): string;
  /** Payload type when a message does not name it (KV values carry no headers). */
  schema: DescMessage;
}

/** `a.b.<model>.<x>` -> `a.b.<model>.*`: one model, any pod or pool. */
const anyLast = (subject: string) => subject.replace(/\.[^.]+$/, ".*");

export const EVENT_SOURCES: readonly EventSource[] = [
  {
    name: "requests",
    description: "request lifecycle (stream <PREFIX>_REQUESTS)",
    kind: "stream",
    stream: (s) => s.streams.requests,
    filter: (s, model) => (model ? s.requests(model) : s.requestsAll()),
    schema: RequestEventSchema,
  },
  {
    name: "kv-events",
    description: "normalised vLLM KV-cache events (stream <PREFIX>_KV_EVENTS)",
    kind: "stream",
    stream: (s) => s.streams.kvEvents,
    filter: (s, model) => (model ? s.kvEventsOfModel(model) : s.kvEventsAll()),
    schema: KvEventBatchSchema,
  },
  {
    name: "decisions",
    description: "autoscaler decisions (stream <PREFIX>_DECISIONS)",
    kind: "stream",
    stream: (s) => s.streams.decisions,
    filter: (s, model) => (model ? anyLast(s.decisions(model, "_")) : s.decisionsAll()),
    schema: ScaleDecisionSchema,
  },
  {
    name: "endpoints",
    description: "endpoint inventory (KV bucket <PREFIX>_ENDPOINTS; current entries, then changes)",
    kind: "stream",
    stream: (s) => `KV_${s.buckets.endpoints}`,
    filter: (s, model) => `$KV.${s.buckets.endpoints}.${model ? `${escapeToken(model)}.*` : ">"}`,
    schema: EndpointSchema,
  },
  {
    name: "load",
    description: "endpoint load from the scorer's scraper (core subjects, live only)",
    kind: "core",
    filter: (s, model) => (model ? anyLast(s.load(model, "_")) : s.loadAll()),
    schema: EndpointLoadSchema,
  },
  {
    name: "demand",
    description: "requests held for a pool at zero (core subjects, live only)",
    kind: "core",
    filter: (s, model) => (model ? s.demand(model) : s.demandAll()),
    schema: DemandSchema,
  },
  {
    name: "sched-decisions",
    description: "picks scorer replicas share with each other (core subjects, live only)",
    kind: "core",
    filter: (s, model) => (model ? s.schedDecisions(model) : s.schedDecisionsAll()),
    schema: RequestEventSchema,
  },
];

export function eventSource(name: string): EventSource {
  const source = EVENT_SOURCES.find((s) => s.name === name);
  if (!source)
    throw new Error(`--stream: unknown "${name}"; one of ${EVENT_SOURCES.map((s) => s.name).join(", ")}`);
  return source;
}
