import fp from "fastify-plugin";
import { Agent } from "undici";
import type { UpstreamOptions } from "../../options.ts";

/**
 * Keep-alive connections to the model servers (one undici Agent, a pool per origin) and the
 * gateway's own in-flight count per pod, which FailOpen's least-loaded pick and the
 * gateway-side saturation check read.
 */
export class UpstreamPool {
  readonly dispatcher: Agent;
  readonly #inFlight = new Map<string, number>();
  /** Pods that refused a connection recently -> time (ms) until which they are tried last. */
  readonly #downUntil = new Map<string, number>();

  constructor(options: UpstreamOptions) {
    this.dispatcher = new Agent({
      connections: options.connectionsPerEndpoint,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  inFlight(pod: string): number {
    return this.#inFlight.get(pod) ?? 0;
  }

  acquire(pod: string): void {
    this.#inFlight.set(pod, this.inFlight(pod) + 1);
  }

  release(pod: string): void {
    const n = this.inFlight(pod) - 1;
    if (n <= 0) this.#inFlight.delete(pod);
    else this.#inFlight.set(pod, n);
  }

  /** The pod refused a connection: try it after the others for `forMs`. */
  markDown(pod: string, forMs = 5_000): void {
    this.#downUntil.set(pod, performance.now() + forMs);
  }

  /** The pod answered: forget any earlier failure. */
  markUp(pod: string): void {
    if (this.#downUntil.size > 0) this.#downUntil.delete(pod);
  }

  isDown(pod: string): boolean {
    if (this.#downUntil.size === 0) return false;
    const until = this.#downUntil.get(pod);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.#downUntil.delete(pod);
    return false;
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

declare module "fastify" {
  interface FastifyInstance {
    upstreamPool: UpstreamPool;
  }
}

export default fp<{ upstream: UpstreamOptions }>(
  (fastify, opts, done) => {
    const pool = new UpstreamPool(opts.upstream);
    fastify.decorate("upstreamPool", pool);
    fastify.addHook("onClose", async () => {
      await pool.dispatcher.destroy();
    });
    done();
  },
  { name: "upstream-pool" },
);
