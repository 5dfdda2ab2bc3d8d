import fp from "fastify-plugin";
import { errors, type GatewayError } from "../../domain/errors.ts";
import { FlowQueue, type QueueItem } from "../../domain/flow-queue.ts";
import type { EventSink } from "../../options.ts";
import type { RequestContext } from "../../proxy/context.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";

/** Why a request waits: every endpoint saturated, or the pool has no ready endpoint at all. */
export type WaitKind = "saturated" | "no-endpoints";

interface Waiter {
  ctx: RequestContext;
  ticket: Ticket | undefined;
  kind: WaitKind;
  resolve: () => void;
  reject: (err: GatewayError) => void;
}

/** A request's place in flow control, kept across its retries so it never loses its turn. */
export interface Ticket {
  readonly model: string;
  item: QueueItem<Waiter>;
  /** True while the request is out of the queue trying its turn. */
  probing: boolean;
  enqueuedAt: number;
}

class ModelQueue {
  readonly queue: FlowQueue<Waiter>;
  probe: Ticket | undefined;
  timer: NodeJS.Timeout | undefined;
  lastDemandAt = 0;
  readonly seenPriorities = new Set<number>();
  /** Base model of the queue's requests: its adapters share the same endpoints. */
  readonly baseModel: string;
  constructor(maxItems: number, baseModel: string) {
    this.queue = new FlowQueue<Waiter>({ maxItems });
    this.baseModel = baseModel;
  }
}

/**
 * The adapter around FlowQueue: one queue per requested model, woken when a request of that
 * model releases its endpoint, when the inventory changes, and on a retry tick (capacity may
 * free up through other gateways). One waiting request at a time retries the pick (the
 * "probe"); when it gets through, the next one is woken at once. Requests past their deadline
 * are answered 429 `rejected-ttl-expired` (saturated) or 503 `rejected-no-endpoints` (pool at
 * zero). While requests wait for a pool at zero, Demand is published so the autoscaler wakes it.
 */
export class FlowControl {
  readonly #queues = new Map<string, ModelQueue>();
  readonly #metrics: GatewayMetrics;
  readonly #events: EventSink | undefined;
  readonly #retryMs: number;
  readonly #demandMs: number;
  #closed = false;

  constructor(options: {
    metrics: GatewayMetrics;
    events: EventSink | undefined;
    retryIntervalMs: number;
    demandIntervalMs: number;
  }) {
    this.#metrics = options.metrics;
    this.#events = options.events;
    this.#retryMs = options.retryIntervalMs;
    this.#demandMs = options.demandIntervalMs;
  }

  /** Highest priority waiting for `model`, or undefined when nobody waits (or only the probe). */
  waitingPriority(model: string): { priority: number; kind: WaitKind } | undefined {
    const head = this.#queues.get(model)?.queue.peek();
    return head === undefined ? undefined : { priority: head.priority, kind: head.value.kind };
  }

  /**
   * Waits until it is this request's turn to try again. The first call enqueues (deadline from
   * the model's policy for `kind`); a later call with the same ticket puts the request back at
   * the head of its flow. Rejects with the answer to send when the request is dropped.
   */
  wait(ctx: RequestContext, kind: WaitKind, ticket: Ticket | undefined): Promise<Ticket> {
    if (this.#closed) return Promise.reject(errors.unavailable("shutting_down", "gateway is shutting down"));
    if (ctx.signal.aborted) {
      return Promise.reject(errors.unavailable("client_closed", "client closed the connection"));
    }
    const model = ctx.target.model;
    let mq = this.#queues.get(model);
    if (mq === undefined) {
      mq = new ModelQueue(ctx.policy.maxQueued, ctx.target.baseModel);
      this.#queues.set(model, mq);
    }
    const q = mq;
    return new Promise<Ticket>((resolve, reject) => {
      const now = performance.now();
      const waiter: Waiter = { ctx, ticket: undefined, kind, resolve: () => resolve(t), reject };
      let t: Ticket;
      if (ticket === undefined) {
        const ttl = kind === "saturated" ? ctx.policy.queueTtlMs : ctx.policy.noEndpointTtlMs;
        const item: QueueItem<Waiter> = {
          id: `${ctx.meta.requestId}:${now}`,
          priority: ctx.meta.priority,
          fairnessId: ctx.meta.fairnessId,
          enqueuedAt: now,
          deadline: now + ttl,
          value: waiter,
        };
        const res = q.queue.enqueue(item);
        if (!res.ok) {
          reject(
            errors.unavailable(
              "queue_full",
              `flow-control queue of "${model}" is full (${ctx.policy.maxQueued} waiting)`,
            ),
          );
          return;
        }
        if (res.evicted)
          this.#drop(
            model,
            res.evicted,
            errors.shed("evicted-queue-pressure", "evicted by a higher-priority request"),
          );
        t = { model, item, probing: false, enqueuedAt: now };
        waiter.ticket = t;
      } else {
        t = ticket;
        waiter.ticket = t;
        t.item = { ...ticket.item, value: waiter };
        t.probing = false;
        if (q.probe === ticket) q.probe = undefined;
        q.queue.requeueFront(t.item);
      }
      const onAbort = () => {
        if (q.queue.remove(t.item.id)) {
          this.#observeWait(t, "client_closed");
          reject(errors.unavailable("client_closed", "client closed the connection while queued"));
          this.#updateGauges(model, q);
        }
      };
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      const originalResolve = waiter.resolve;
      waiter.resolve = () => {
        ctx.signal.removeEventListener("abort", onAbort);
        originalResolve();
      };
      const originalReject = waiter.reject;
      waiter.reject = (err) => {
        ctx.signal.removeEventListener("abort", onAbort);
        originalReject(err);
      };
      this.#updateGauges(model, q);
      if (kind === "no-endpoints") this.#maybeDemand(model, q, now, ticket === undefined);
      this.#schedule(model, q);
      // Nobody is trying: let the head try now (it may be this very request).
      if (q.probe === undefined && ticket === undefined) this.#dispatch(model, q);
    });
  }

  /** The request holding `ticket` finished trying: got through (`ok`) or gave up. */
  finish(ticket: Ticket, ok: boolean): void {
    const q = this.#queues.get(ticket.model);
    if (q === undefined) return;
    if (q.queue.remove(ticket.item.id)) this.#updateGauges(ticket.model, q);
    if (q.probe === ticket) {
      q.probe = undefined;
      this.#observeWait(ticket, ok ? "dispatched" : "failed");
      if (ok) this.#dispatch(ticket.model, q);
    }
  }

  /**
   * Capacity may have freed on an endpoint of `baseModel` (a request released it): wake the
   * queue of the base model and of each of its adapters.
   */
  wake(baseModel: string): void {
    if (this.#queues.size === 0) return;
    for (const [model, q] of this.#queues) {
      if (q.baseModel === baseModel && q.probe === undefined) this.#dispatch(model, q);
    }
  }

  /** The inventory changed: every queue may make progress. */
  wakeAll(): void {
    for (const [model, q] of this.#queues) if (q.probe === undefined) this.#dispatch(model, q);
  }

  /** Requests waiting for a model (all models when omitted). */
  size(model?: string): number {
    if (model !== undefined) return this.#queues.get(model)?.queue.size ?? 0;
    let n = 0;
    for (const q of this.#queues.values()) n += q.queue.size;
    return n;
  }

  /** Answers every waiting request 503 and stops the timers (shutdown). */
  close(): void {
    this.#closed = true;
    for (const [model, q] of this.#queues) {
      if (q.timer) clearTimeout(q.timer);
      for (const item of [...q.queue.items()]) {
        q.queue.remove(item.id);
        this.#drop(model, item, errors.unavailable("shutting_down", "gateway is shutting down"));
      }
    }
    this.#queues.clear();
  }

  #dispatch(model: string, q: ModelQueue): void {
    const item = q.queue.next();
    this.#updateGauges(model, q);
    if (item === undefined) {
      if (q.probe === undefined && q.timer) {
        clearTimeout(q.timer);
        q.timer = undefined;
        this.#queues.delete(model);
      }
      return;
    }
    const ticket = item.value.ticket!;
    ticket.probing = true;
    q.probe = ticket;
    item.value.resolve();
  }

  #schedule(model: string, q: ModelQueue): void {
    if (q.timer !== undefined) return;
    const tick = () => {
      q.timer = undefined;
      if (this.#closed) return;
      const now = performance.now();
      for (const item of q.queue.expire(now)) {
        const err =
          item.value.kind === "saturated"
            ? errors.shed(
                "rejected-ttl-expired",
                `waited ${Math.round(now - item.enqueuedAt)} ms for capacity on "${model}"`,
              )
            : errors.noEndpoints(model, `no ready endpoint within ${Math.round(now - item.enqueuedAt)} ms`);
        this.#drop(model, item, err);
      }
      this.#updateGauges(model, q);
      this.#maybeDemand(model, q, now, false);
      if (q.probe === undefined) this.#dispatch(model, q);
      if (q.queue.size > 0 || q.probe !== undefined) this.#schedule(model, q);
      else this.#queues.delete(model);
    };
    // Wake at the next retry or the earliest deadline, whichever comes first.
    let delay = this.#retryMs;
    const now = performance.now();
    for (const it of q.queue.items()) delay = Math.min(delay, Math.max(1, it.deadline - now));
    q.timer = setTimeout(tick, delay);
    q.timer.unref();
  }

  #drop(model: string, item: QueueItem<Waiter>, err: GatewayError): void {
    this.#observeWait(
      { model, item, probing: false, enqueuedAt: item.enqueuedAt },
      err.droppedReason ?? err.code,
    );
    item.value.reject(err);
  }

  #maybeDemand(model: string, q: ModelQueue, now: number, onHold: boolean): void {
    if (this.#events === undefined) return;
    if (!onHold && now - q.lastDemandAt < this.#demandMs) return;
    let held = 0;
    let oldest = now;
    for (const it of q.queue.items()) {
      if (it.value.kind !== "no-endpoints") continue;
      held++;
      oldest = Math.min(oldest, it.enqueuedAt);
    }
    if (held === 0) return;
    q.lastDemandAt = now;
    this.#events.demand(model, held, (now - oldest) / 1000);
  }

  #observeWait(ticket: Ticket, outcome: string): void {
    const ctx = ticket.item.value.ctx;
    const seconds = (performance.now() - ticket.enqueuedAt) / 1000;
    this.#metrics.queueWait.observe({ model: ticket.model, outcome }, seconds);
    this.#metrics.eppQueueDuration.observe(
      {
        fairness_id: ctx.meta.fairnessId,
        priority: String(ctx.meta.priority),
        outcome,
        model_name: ticket.model,
      },
      seconds,
    );
  }

  #updateGauges(model: string, q: ModelQueue): void {
    const sizes = q.queue.sizeByPriority();
    for (const p of q.seenPriorities) {
      if (!sizes.has(p)) sizes.set(p, 0);
    }
    for (const [priority, n] of sizes) {
      q.seenPriorities.add(priority);
      this.#metrics.queueSize.set({ model, priority: String(priority) }, n);
      this.#metrics.eppQueueSize.set({ model_name: model, priority: String(priority) }, n);
    }
  }
}

declare module "fastify" {
  interface FastifyInstance {
    flowControl: FlowControl;
  }
}

export default fp<{ events: EventSink | undefined; queueRetryIntervalMs: number; demandIntervalMs: number }>(
  (fastify, opts, done) => {
    const flow = new FlowControl({
      metrics: fastify.gatewayMetrics,
      events: opts.events,
      retryIntervalMs: opts.queueRetryIntervalMs,
      demandIntervalMs: opts.demandIntervalMs,
    });
    fastify.decorate("flowControl", flow);
    fastify.addHook("preClose", (done) => {
      flow.close();
      done();
    });
    done();
  },
  { name: "flow-control", dependencies: ["gateway-metrics"] },
);
