import { escapeToken, unescapeToken } from "./token-escape.ts";

/**
 * Builders for every NATS subject and resource of DESIGN §3. All subjects start with a
 * configurable prefix (default `inferd`) and the version `v1`; names go through escapeToken.
 */
export const DEFAULT_PREFIX = "inferd";
export const VERSION = "v1";

/**
 * Stream and bucket names of the default prefix. With another prefix use `subjects(prefix).streams`
 * and `.buckets`: names carry the prefix, so two installations can share one NATS.
 */
export const STREAMS = {
  kvEvents: "INFERD_KV_EVENTS",
  requests: "INFERD_REQUESTS",
  decisions: "INFERD_DECISIONS",
} as const;

export const BUCKETS = {
  endpoints: "INFERD_ENDPOINTS",
} as const;

export interface StreamNames {
  readonly kvEvents: string;
  readonly requests: string;
  readonly decisions: string;
}

export interface BucketNames {
  readonly endpoints: string;
}

/**
 * `<PREFIX>_<NAME>`: the prefix upper-cased with dots as underscores (stream and bucket names allow
 * neither dots nor wildcards), so `inferd` keeps the historical INFERD_* names and `team-b.prod`
 * gives `TEAM-B_PROD_REQUESTS`. Prefixes that differ only in case or in `.` vs `_` share names.
 */
export function resourceName(prefix: string, name: string): string {
  return `${prefix.toUpperCase().replaceAll(".", "_")}_${name}`;
}

export interface Subjects {
  readonly prefix: string;
  /** JetStream stream names of this prefix. */
  readonly streams: StreamNames;
  /** JetStream KV bucket names of this prefix. */
  readonly buckets: BucketNames;
  kvEvents(model: string, pod: string): string;
  /** Wildcard over all KV events (stream subject). */
  kvEventsAll(): string;
  kvEventsOfModel(model: string): string;
  kvLookup(): string;
  schedPick(): string;
  /** Routing decisions a scorer replica made, so its peers count them at once (RequestEvent, ROUTED). */
  schedDecisions(model: string): string;
  schedDecisionsAll(): string;
  requests(model: string): string;
  requestsAll(): string;
  load(model: string, pod: string): string;
  loadAll(): string;
  decisions(model: string, pool: string): string;
  decisionsAll(): string;
  demand(model: string): string;
  demandAll(): string;
  /** Key of an endpoint in the INFERD_ENDPOINTS bucket. */
  endpointKey(model: string, pod: string): string;
  /** Service answering with the contract's protobuf descriptors (FileDescriptorSet). */
  schema(): string;
}

export function subjects(prefix: string = DEFAULT_PREFIX): Subjects {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new Error(`invalid subject prefix "${prefix}": use tokens of [A-Za-z0-9_-] separated by dots`);
  }
  const base = `${prefix}.${VERSION}`;
  const t = escapeToken;
  const r = (name: string) => resourceName(prefix, name);
  return {
    prefix,
    streams: { kvEvents: r("KV_EVENTS"), requests: r("REQUESTS"), decisions: r("DECISIONS") },
    buckets: { endpoints: r("ENDPOINTS") },
    kvEvents: (model, pod) => `${base}.kv.events.${t(model)}.${t(pod)}`,
    kvEventsAll: () => `${base}.kv.events.>`,
    kvEventsOfModel: (model) => `${base}.kv.events.${t(model)}.*`,
    kvLookup: () => `${base}.kv.lookup`,
    schedPick: () => `${base}.sched.pick`,
    schedDecisions: (model) => `${base}.sched.decisions.${t(model)}`,
    schedDecisionsAll: () => `${base}.sched.decisions.*`,
    requests: (model) => `${base}.requests.${t(model)}`,
    requestsAll: () => `${base}.requests.*`,
    load: (model, pod) => `${base}.load.${t(model)}.${t(pod)}`,
    loadAll: () => `${base}.load.*.*`,
    decisions: (model, pool) => `${base}.autoscale.decisions.${t(model)}.${t(pool)}`,
    decisionsAll: () => `${base}.autoscale.decisions.*.*`,
    demand: (model) => `${base}.autoscale.demand.${t(model)}`,
    demandAll: () => `${base}.autoscale.demand.*`,
    endpointKey: (model, pod) => `${t(model)}.${t(pod)}`,
    schema: () => `${base}.schema`,
  };
}

/** Splits a `<model>.<pod>` pair (subject tail or KV key) back into names. */
export function parseModelPod(tokens: string): { model: string; pod: string } {
  const parts = tokens.split(".");
  if (parts.length !== 2) throw new Error(`expected "<model>.<pod>", got "${tokens}"`);
  return { model: unescapeToken(parts[0]!), pod: unescapeToken(parts[1]!) };
}

/** The last `n` tokens of a subject, unescaped. */
export function lastTokens(subject: string, n: number): string[] {
  const parts = subject.split(".");
  if (parts.length < n) throw new Error(`subject "${subject}" has fewer than ${n} tokens`);
  return parts.slice(parts.length - n).map(unescapeToken);
}
