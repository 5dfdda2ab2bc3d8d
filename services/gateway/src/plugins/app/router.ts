import { PickOutcome, type PickResponse } from "@inferd/protocol";
import fp from "fastify-plugin";
import { errors } from "../../domain/errors.ts";
import type { Inventory } from "../../domain/inventory.ts";
import { chunkKeys, LocalPrefixView, localOrder } from "../../domain/local-prefix.ts";
import { afterUpstreamWrite } from "../../proxy/after-upstream-write.ts";
import type { RequestContext, Route, Target } from "../../proxy/context.ts";
import type { FlowControl, Ticket, WaitKind } from "./flow-control.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import type { PickClient } from "./pick-client.ts";
import type { UpstreamPool } from "./upstream-pool.ts";

type Decision = { kind: "route"; route: Route } | { kind: WaitKind; detail: string };

/**
 * In a local pick, a prefix holder keeps the request unless it has more than this many requests
 * in flight from this gateway above the least-loaded candidate.
 */
const LOCAL_LOAD_SLACK = 4;

/**
 * Turns a request into a route: ask the scorer (or pick locally), then apply flow control —
 * shed sheddable requests when the pool is saturated, queue the others by priority and
 * fairness, hold requests while the pool has no endpoint. Throws the GatewayError to answer.
 */
export class Router {
  readonly #pick: PickClient;
  readonly #inventory: Inventory;
  readonly #pool: UpstreamPool;
  readonly #flow: FlowControl;
  readonly #metrics: GatewayMetrics;
  readonly #prefix: LocalPrefixView;
  /** Chunk keys of each request's prompt, computed once per request. */
  readonly #keys = new WeakMap<RequestContext, number[]>();
  #rotation = 0;

  constructor(deps: {
    pick: PickClient;
    inventory: Inventory;
    pool: UpstreamPool;
    flow: FlowControl;
    metrics: GatewayMetrics;
    /** Chunk keys remembered per pod by the local prefix view. */
    localPrefixChunksPerPod: number;
  }) {
    this.#pick = deps.pick;
    this.#inventory = deps.inventory;
    this.#pool = deps.pool;
    this.#flow = deps.flow;
    this.#metrics = deps.metrics;
    this.#prefix = new LocalPrefixView(deps.localPrefixChunksPerPod);
  }

  #chunkKeys(ctx: RequestContext): number[] {
    let keys = this.#keys.get(ctx);
    if (keys === undefined) {
      keys = chunkKeys(ctx.promptForPick);
      this.#keys.set(ctx, keys);
    }
    return keys;
  }

  /**
   * The local view learns every route taken, the scorer's and its own: once the upstream request
   * is written (hashing and recording a 24k-character prompt is ~0.3 ms of CPU, all of it time to
   * first token if done before).
   */
  #remember(ctx: RequestContext, route: Route): void {
    const first = route.endpoints[0];
    if (first === undefined) return;
    afterUpstreamWrite(() => this.#prefix.record(ctx.target.baseModel, first.pod, this.#chunkKeys(ctx)));
  }

  async route(ctx: RequestContext): Promise<Route> {
    const model = ctx.target.model;
    let ticket: Ticket | undefined;
    try {
      // Never overtake a waiting request of equal or higher priority.
      const waiting = this.#flow.waitingPriority(model);
      if (waiting !== undefined && waiting.priority >= ctx.meta.priority) {
        this.#refuseWaiting(ctx, waiting.kind, "requests are already waiting");
        ticket = await this.#flow.wait(ctx, waiting.kind, undefined);
      }
      for (;;) {
        const d = await this.decide(ctx);
        if (d.kind === "route") {
          this.#remember(ctx, d.route);
          if (ticket !== undefined) {
            ctx.queuedMs = performance.now() - ticket.enqueuedAt;
            this.#flow.finish(ticket, true);
            ticket = undefined;
          }
          return d.route;
        }
        this.#refuseWaiting(ctx, d.kind, d.detail);
        ticket = await this.#flow.wait(ctx, d.kind, ticket);
      }
    } finally {
      if (ticket !== undefined) this.#flow.finish(ticket, false);
    }
  }

  /** Throws when the request may not wait: sheddable under saturation, or waiting disabled. */
  #refuseWaiting(ctx: RequestContext, kind: WaitKind, detail: string): void {
    if (kind === "saturated") {
      if (ctx.meta.priority < 0) {
        throw errors.shed(
          "rejected-saturated",
          `every endpoint of "${ctx.target.model}" is saturated; sheddable request dropped`,
        );
      }
      if (ctx.policy.queueTtlMs === 0)
        throw errors.shed("rejected-saturated", `every endpoint of "${ctx.target.model}" is saturated`);
    } else if (ctx.policy.noEndpointTtlMs === 0) {
      throw errors.noEndpoints(ctx.target.model, detail);
    }
  }

  /**
   * Endpoints to try after every endpoint of the route failed: a fresh pick that excludes the
   * failed pods (the scorer gets them as exclude_pods). Empty when there is none; never waits.
   */
  async alternatives(ctx: RequestContext, exclude: readonly string[]): Promise<Target[]> {
    try {
      const d = await this.decide(ctx, exclude);
      return d.kind === "route" ? d.route.endpoints.filter((e) => !exclude.includes(e.pod)) : [];
    } catch {
      return [];
    }
  }

  /**
   * One routing attempt: the scorer's answer, or a local pick when the scorer is late
   * (pickDeadlineMode LocalPick, the default) or unreachable (failureMode FailOpen).
   */
  async decide(ctx: RequestContext, exclude: readonly string[] = []): Promise<Decision> {
    if (this.#pick.configured) {
      const r = await this.#pick.pick(ctx, exclude);
      if (r.kind === "answer" && r.response.outcome !== PickOutcome.UNSPECIFIED)
        return this.#fromPick(ctx, r.response);
      const reason = r.kind === "answer" ? "scorer answered without an outcome" : r.reason;
      const late = r.kind === "late";
      const mode = late ? ctx.policy.pickDeadlineMode : ctx.policy.failureMode;
      this.#metrics.failOpen.inc({ model: ctx.target.model, failure_mode: mode });
      if (mode === "FailClose") {
        throw errors.unavailable(
          "scorer_unavailable",
          `endpoint picker ${late ? "late" : "unavailable"} (${reason}) and "${ctx.target.model}" fails closed`,
        );
      }
      this.#metrics.localPicks.inc({ model: ctx.target.model, reason: late ? "deadline" : "unreachable" });
    }
    return this.#local(ctx, exclude);
  }

  #fromPick(ctx: RequestContext, res: PickResponse): Decision {
    switch (res.outcome) {
      case PickOutcome.OK: {
        if (res.promptTokens > 0) ctx.promptTokensEstimate = res.promptTokens;
        if (res.endpoints.length === 0)
          return { kind: "no-endpoints", detail: res.message || "scorer returned no endpoint" };
        const endpoints = this.#unsaturated(
          ctx,
          res.endpoints.map((e) => ({ pod: e.pod, address: e.address, cachedTokens: e.cachedTokens })),
        );
        if (endpoints.length === 0)
          return { kind: "saturated", detail: "every picked endpoint is at its gateway concurrency limit" };
        const prefill = res.prefill ? { pod: res.prefill.pod, address: res.prefill.address } : undefined;
        return { kind: "route", route: { endpoints, prefill, source: "scorer" } };
      }
      case PickOutcome.NO_ENDPOINTS:
        return { kind: "no-endpoints", detail: res.message || "no ready endpoint" };
      case PickOutcome.SATURATED:
        return { kind: "saturated", detail: res.message || "saturated" };
      case PickOutcome.SLO_UNATTAINABLE:
        // The scorer serves an unattainable objective best-effort and refuses only sheddable
        // requests (or every one, when configured to): waiting would not make the objective
        // attainable, so the request is dropped at once, as llm-d does.
        throw errors.shed(
          "rejected-slo-unattainable",
          res.message || `no endpoint of "${ctx.target.model}" can meet the request's latency objective`,
        );
      case PickOutcome.PD_UNAVAILABLE:
        throw errors.unavailable(
          "pd_unavailable",
          `prefill/decode required but no prefill endpoint is ready: ${res.message}`,
        );
      default:
        throw errors.unavailable("scorer_error", `unexpected pick outcome ${res.outcome}`);
    }
  }

  #local(ctx: RequestContext, exclude: readonly string[]): Decision {
    let candidates = this.#inventory.candidates(ctx.target);
    if (exclude.length > 0) candidates = candidates.filter((e) => !exclude.includes(e.pod));
    if (candidates.length === 0)
      return { kind: "no-endpoints", detail: "no ready endpoint in the inventory" };
    const ordered = localOrder(
      candidates,
      this.#prefix.match(ctx.target.baseModel, this.#chunkKeys(ctx)),
      (pod) => this.#pool.inFlight(pod),
      this.#rotation++,
      LOCAL_LOAD_SLACK,
    );
    const endpoints = this.#unsaturated(
      ctx,
      ordered.map((e) => ({ pod: e.pod, address: e.address })),
    );
    if (endpoints.length === 0)
      return { kind: "saturated", detail: "every endpoint is at its gateway concurrency limit" };
    return { kind: "route", route: { endpoints, prefill: undefined, source: "local" } };
  }

  /**
   * Drops endpoints at the gateway-side concurrency limit (when one is configured) and moves
   * endpoints that refused a connection in the last seconds to the end of the list, so a dead
   * server costs one failed connect, not one per request.
   */
  #unsaturated(ctx: RequestContext, eps: Target[]): Target[] {
    const limit = ctx.policy.maxConcurrencyPerEndpoint;
    const open = limit <= 0 ? eps : eps.filter((e) => this.#pool.inFlight(e.pod) < limit);
    if (!open.some((e) => this.#pool.isDown(e.pod))) return open;
    return [
      ...open.filter((e) => !this.#pool.isDown(e.pod)),
      ...open.filter((e) => this.#pool.isDown(e.pod)),
    ];
  }
}

declare module "fastify" {
  interface FastifyInstance {
    requestRouter: Router;
  }
}

export default fp<{ inventory: Inventory; localPrefixChunksPerPod: number }>(
  (fastify, opts, done) => {
    fastify.decorate(
      "requestRouter",
      new Router({
        pick: fastify.pickClient,
        inventory: opts.inventory,
        pool: fastify.upstreamPool,
        flow: fastify.flowControl,
        metrics: fastify.gatewayMetrics,
        localPrefixChunksPerPod: opts.localPrefixChunksPerPod,
      }),
    );
    done();
  },
  {
    name: "request-router",
    dependencies: ["pick-client", "upstream-pool", "flow-control", "gateway-metrics"],
  },
);
