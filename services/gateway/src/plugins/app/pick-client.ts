import { make, PickRequestSchema, type PickResponse } from "@inferd/protocol";
import fp from "fastify-plugin";
import type { PickFn } from "../../options.ts";
import type { RequestContext } from "../../proxy/context.ts";

export type PickResult =
  | { readonly kind: "answer"; readonly response: PickResponse }
  /** No answer within the deadline: the scorer may be up but slow. */
  | { readonly kind: "late"; readonly reason: string }
  | { readonly kind: "unreachable"; readonly reason: string };

/**
 * Asks the scorer (`inferd.v1.sched.pick`) with a deadline. Never throws: a late scorer (no
 * answer by the deadline, whatever the transport says) and an unreachable one (an error before
 * it) are results the router turns into the model's pickDeadlineMode or failureMode.
 */
export class PickClient {
  readonly #pick: PickFn | undefined;
  readonly #deadlineMs: number;
  readonly #observe: (result: string, seconds: number) => void;

  constructor(
    pick: PickFn | undefined,
    deadlineMs: number,
    observe: (result: string, seconds: number) => void,
  ) {
    this.#pick = pick;
    this.#deadlineMs = deadlineMs;
    this.#observe = observe;
  }

  /** False when no scorer is configured (static endpoint list): routing is always local. */
  get configured(): boolean {
    return this.#pick !== undefined;
  }

  async pick(ctx: RequestContext, excludePods: readonly string[] = []): Promise<PickResult> {
    if (this.#pick === undefined) return { kind: "unreachable", reason: "no scorer configured" };
    const prompt = ctx.promptForPick;
    const request = make(PickRequestSchema, {
      requestId: ctx.meta.requestId,
      model: ctx.target.model,
      prompt:
        prompt.case === "chat"
          ? { case: "chat", value: { messages: prompt.messages, ...(prompt.template ?? {}) } }
          : prompt.case === "tokens"
            ? { case: "tokens", value: { ids: prompt.ids } }
            : { case: "text", value: prompt.text },
      sessionId: ctx.meta.sessionId,
      priority: ctx.meta.priority,
      fairnessId: ctx.meta.fairnessId,
      sloTtftMs: ctx.meta.sloTtftMs,
      sloTpotMs: ctx.meta.sloTpotMs,
      maxTokens: ctx.maxTokens,
      excludePods: [...excludePods],
      cacheSalt: typeof ctx.body.cache_salt === "string" ? ctx.body.cache_salt : "",
      // The gateway reads the endpoints, not every candidate's scores (~15 KB per pick at 100 endpoints).
      omitCandidates: true,
    });
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Our own timer, so a late answer is "late" whatever error (if any) the transport gives.
    const deadline = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), this.#deadlineMs);
    });
    try {
      const response = await Promise.race([this.#pick(request, this.#deadlineMs), deadline]);
      const seconds = (performance.now() - t0) / 1000;
      if (response === "late") {
        this.#observe("deadline", seconds);
        return { kind: "late", reason: `no answer within ${this.#deadlineMs} ms` };
      }
      this.#observe(outcomeLabel(response.outcome), seconds);
      return { kind: "answer", response };
    } catch (err) {
      const elapsed = performance.now() - t0;
      const code = (err as { code?: unknown }).code;
      if (elapsed >= this.#deadlineMs) {
        this.#observe("deadline", elapsed / 1000);
        return { kind: "late", reason: (err as Error).message };
      }
      this.#observe(typeof code === "string" ? code : "error", elapsed / 1000);
      return { kind: "unreachable", reason: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}

function outcomeLabel(outcome: number): string {
  return (
    ["unspecified", "ok", "no_endpoints", "saturated", "pd_unavailable", "slo_unattainable"][outcome] ??
    "unknown"
  );
}

declare module "fastify" {
  interface FastifyInstance {
    pickClient: PickClient;
  }
}

export default fp<{ pick: PickFn | undefined; pickDeadlineMs: number }>(
  (fastify, opts, done) => {
    const hist = fastify.gatewayMetrics.pickDuration;
    fastify.decorate(
      "pickClient",
      new PickClient(opts.pick, opts.pickDeadlineMs, (result, s) => hist.observe({ result }, s)),
    );
    done();
  },
  { name: "pick-client", dependencies: ["gateway-metrics"] },
);
