import type { InflightLoad } from "../framework/types.ts";
import type { TtftSample } from "./ttft-predictor.ts";

export type LifecyclePhase = "admitted" | "routed" | "first_token" | "completed" | "failed";

/** The parts of a gateway RequestEvent that in-flight accounting needs (decoupled from protobuf). */
export interface LifecycleEvent {
  readonly requestId: string;
  readonly phase: LifecyclePhase;
  readonly baseModel: string;
  /** Pod serving decode (or the whole request). */
  readonly endpoint: string;
  /** Pod serving the prefill leg under P/D, empty otherwise. */
  readonly prefillEndpoint: string;
  readonly sessionId: string;
  readonly promptTokens: number;
  /** Prefix-cached prompt tokens if the gateway knows them (0 otherwise). */
  readonly cachedTokens: number;
  readonly ttftSeconds: number;
  /** Time spent queued in the gateway, excluded from the TTFT the model learns. */
  readonly queueSeconds: number;
  /** Mean inter-token latency (COMPLETED of a stream), the time-per-output-token target; 0 = unknown. */
  readonly itlMeanSeconds?: number;
}

export interface PickRecord {
  readonly requestId: string;
  readonly baseModel: string;
  readonly pod: string;
  readonly prefillPod: string;
  readonly promptTokens: number;
  readonly cachedTokens: number;
}

interface Entry {
  model: string;
  pod: string;
  prefillPod: string;
  promptTokens: number;
  uncachedTokens: number;
  prefillDone: boolean;
  /** True once a lifecycle event confirmed the request; unconfirmed picks expire quickly. */
  confirmed: boolean;
  lastMs: number;
  /** Features of the TTFT observation, captured when the request was routed. */
  queuedAhead: number;
}

interface Agg {
  requests: number;
  tokens: number;
  prefillTokens: number;
}

const FINISHED_RETENTION_MS = 120_000;

export interface InflightOptions {
  /** How long a pick counts as in flight without a confirming lifecycle event. */
  speculativeTtlMs: number;
  /** Longest a request counts as in flight without any event (lost COMPLETED events). */
  maxAgeMs: number;
}

/**
 * Requests in flight per endpoint, rebuilt identically on every scorer replica from the gateway's
 * lifecycle events (active-active), plus this replica's own picks until the ROUTED event arrives.
 * Events are idempotent per request id: a repeated ROUTED (fallback to another endpoint) moves the
 * request; events after completion are ignored.
 */
export class InflightTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly perPod = new Map<string, Agg>();
  /** Finished request ids, so a late or redelivered event does not resurrect them. */
  private readonly finished = new Map<string, number>();
  private readonly opts: InflightOptions;
  /** Per pod, the number of the last change of its in-flight load (one counter for all pods). */
  private readonly changedAt = new Map<string, number>();
  private changeCount = 0;

  constructor(opts: InflightOptions) {
    this.opts = opts;
  }

  load(pod: string): InflightLoad {
    return this.perPod.get(pod) ?? { requests: 0, tokens: 0, prefillTokens: 0 };
  }

  /**
   * A number that differs from the previous call's whenever the pod's in-flight load changed in
   * between (a pick, ROUTED, FIRST_TOKEN, COMPLETED or FAILED that touched it; 0 = never). The
   * scraper skips a quiet endpoint by it.
   */
  lastChange(pod: string): number {
    return this.changedAt.get(pod) ?? 0;
  }

  /** Pods with anything in flight. */
  pods(): string[] {
    return [...this.perPod.keys()];
  }

  get size(): number {
    return this.entries.size;
  }

  /** This replica's own decision, counted until confirmed or `speculativeTtlMs` passes. */
  picked(rec: PickRecord, nowMs: number): void {
    if (this.finished.has(rec.requestId)) return;
    const existing = this.entries.get(rec.requestId);
    if (existing?.confirmed) return;
    const uncached = Math.max(0, rec.promptTokens - rec.cachedTokens);
    this.put(rec.requestId, {
      model: rec.baseModel,
      pod: rec.pod,
      prefillPod: rec.prefillPod,
      promptTokens: rec.promptTokens,
      uncachedTokens: uncached,
      prefillDone: false,
      confirmed: false,
      lastMs: nowMs,
      queuedAhead: this.queuedAhead(rec.prefillPod || rec.pod),
    });
  }

  /** Applies a lifecycle event; returns a TTFT observation when the event completes one. */
  apply(ev: LifecycleEvent, nowMs: number): TtftSample | undefined {
    if (!ev.requestId || this.finished.has(ev.requestId)) return undefined;
    const entry = this.entries.get(ev.requestId);
    switch (ev.phase) {
      case "admitted":
        return undefined;
      case "routed": {
        if (!ev.endpoint) return undefined;
        const samePlace = entry && entry.pod === ev.endpoint && entry.prefillPod === ev.prefillEndpoint;
        const promptTokens = ev.promptTokens > 0 ? ev.promptTokens : (entry?.promptTokens ?? 0);
        // Our own pick knows the cached part better than a gateway that leaves cached_tokens at 0.
        const uncached =
          ev.cachedTokens > 0 || !samePlace
            ? Math.max(0, promptTokens - ev.cachedTokens)
            : Math.min(promptTokens, entry?.uncachedTokens ?? promptTokens);
        const target = ev.prefillEndpoint || ev.endpoint;
        this.put(ev.requestId, {
          model: ev.baseModel || entry?.model || "",
          pod: ev.endpoint,
          prefillPod: ev.prefillEndpoint,
          promptTokens,
          uncachedTokens: uncached,
          prefillDone: false,
          confirmed: true,
          lastMs: nowMs,
          queuedAhead: samePlace && entry ? entry.queuedAhead : this.queuedAhead(target, ev.requestId),
        });
        return undefined;
      }
      case "first_token": {
        if (!entry || entry.prefillDone) return undefined;
        this.put(ev.requestId, { ...entry, prefillDone: true, confirmed: true, lastMs: nowMs });
        if (!(ev.ttftSeconds > 0)) return undefined;
        return {
          model: entry.model,
          uncachedTokens: entry.uncachedTokens,
          queuedPrefillTokens: entry.queuedAhead,
          ttftMs: Math.max(0, ev.ttftSeconds - Math.max(0, ev.queueSeconds)) * 1000,
        };
      }
      case "completed":
      case "failed":
        this.remove(ev.requestId);
        this.finished.set(ev.requestId, nowMs);
        return undefined;
    }
  }

  /** Expires unconfirmed picks and requests that never finished; forgets old finished ids. */
  sweep(nowMs: number): void {
    for (const [id, e] of this.entries) {
      const ttl = e.confirmed ? this.opts.maxAgeMs : this.opts.speculativeTtlMs;
      if (nowMs - e.lastMs > ttl) this.remove(id);
    }
    // Late or redelivered events arrive within seconds; keeping finished ids longer only costs memory
    // (at 1000 requests/s, ten minutes of ids would be 600k entries).
    const keepFinishedMs = Math.min(this.opts.maxAgeMs, FINISHED_RETENTION_MS);
    for (const [id, t] of this.finished) {
      if (nowMs - t <= keepFinishedMs) break; // insertion order = finishing order
      this.finished.delete(id);
    }
    // Bounded by the pods with something in flight: a forgotten pod reads 0, a change since it was
    // read differently (one extra scrape at most), and later changes get new, larger numbers.
    for (const pod of this.changedAt.keys()) if (!this.perPod.has(pod)) this.changedAt.delete(pod);
  }

  private queuedAhead(pod: string, excluding?: string): number {
    let q = this.perPod.get(pod)?.prefillTokens ?? 0;
    const own = excluding ? this.entries.get(excluding) : undefined;
    if (own) for (const [p, , , pre] of contributions(own)) if (p === pod) q -= pre;
    return Math.max(0, q);
  }

  private put(id: string, next: Entry): void {
    const prev = this.entries.get(id);
    if (prev) this.applyContrib(prev, -1);
    this.entries.set(id, next);
    this.applyContrib(next, +1);
  }

  private remove(id: string): void {
    const prev = this.entries.get(id);
    if (!prev) return;
    this.applyContrib(prev, -1);
    this.entries.delete(id);
  }

  private applyContrib(e: Entry, sign: 1 | -1): void {
    for (const [pod, req, tok, pre] of contributions(e)) {
      this.changedAt.set(pod, ++this.changeCount);
      let a = this.perPod.get(pod);
      if (!a) {
        a = { requests: 0, tokens: 0, prefillTokens: 0 };
        this.perPod.set(pod, a);
      }
      a.requests += sign * req;
      a.tokens += sign * tok;
      a.prefillTokens += sign * pre;
      if (a.requests <= 0 && a.tokens <= 0 && a.prefillTokens <= 0) this.perPod.delete(pod);
    }
  }
}

/** [pod, requests, tokens, prefill tokens] an entry adds to each pod it occupies. */
function contributions(e: Entry): [string, number, number, number][] {
  const pending = e.prefillDone ? 0 : e.uncachedTokens;
  if (!e.prefillPod || e.prefillPod === e.pod) return [[e.pod, 1, e.promptTokens, pending]];
  const out: [string, number, number, number][] = [[e.pod, 1, e.promptTokens, 0]];
  // The prefill leg occupies the prefill server until the first token.
  if (!e.prefillDone) out.push([e.prefillPod, 1, e.promptTokens, pending]);
  return out;
}
