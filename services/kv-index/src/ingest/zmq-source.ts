import type { Logger } from "@inferd/service-kit";
import { Subscriber } from "zeromq";

/** Frames of one message, with the inventory endpoint it came from (connect mode). */
export type FramesHandler = (
  frames: Buffer[],
  source?: { model: string; pod: string },
) => void | Promise<void>;

interface Connection {
  socket: Subscriber;
  endpoint: string;
  done: Promise<void>;
}

/**
 * ZeroMQ SUB sockets receiving vLLM KV events. Two modes, as llm-d:
 *  - bind: one SUB binds (e.g. tcp://*:5557) and every vLLM connects its PUB to it
 *    (vLLM connects when its endpoint has no wildcard);
 *  - connect: one SUB per inventory endpoint connects to the engine's bound PUB. One socket per
 *    engine, so a message's origin is known even with vLLM's default empty topic.
 * The handler is awaited, which gives back-pressure (ZeroMQ queues up to the high-water mark).
 */
export class ZmqSource {
  readonly #handler: FramesHandler;
  readonly #logger: Logger;
  readonly #topicFilter: string;
  readonly #hwm: number;
  readonly #connections = new Map<string, Connection>();
  #bound: Connection | undefined;
  readonly #onPeer: ((source?: { model: string; pod: string }) => void) | undefined;

  constructor(
    handler: FramesHandler,
    logger: Logger,
    options: {
      topicFilter?: string;
      receiveHighWaterMark?: number;
      /**
       * A publisher (re)connected: in connect mode the engine of `source` (it may have
       * restarted), in bind mode some engine (which one is unknown).
       */
      onPeerConnected?: (source?: { model: string; pod: string }) => void;
    } = {},
  ) {
    this.#handler = handler;
    this.#onPeer = options.onPeerConnected;
    this.#logger = logger;
    this.#topicFilter = options.topicFilter ?? "";
    this.#hwm = options.receiveHighWaterMark ?? 100_000;
  }

  async bind(endpoint: string): Promise<void> {
    const socket = this.#socket();
    await socket.bind(endpoint);
    this.#bound = { socket, endpoint, done: this.#pump(socket, endpoint) };
    this.#watch(socket, "accept");
    this.#logger.info({ endpoint, topicFilter: this.#topicFilter }, "kv events: SUB bound");
  }

  /** The endpoint actually bound (resolves `tcp://*:0` to the chosen port). */
  get boundEndpoint(): string | undefined {
    return this.#bound?.socket.lastEndpoint ?? undefined;
  }

  /** Connects (or reconnects, when the endpoint changed) a SUB to an engine's PUB. */
  connect(key: string, endpoint: string, source: { model: string; pod: string }): void {
    const existing = this.#connections.get(key);
    if (existing?.endpoint === endpoint) return;
    if (existing) this.disconnect(key);
    const socket = this.#socket();
    socket.connect(endpoint);
    // The source is bound per socket; ZeroMQ reconnects by itself when the engine restarts.
    this.#connections.set(key, { socket, endpoint, done: this.#pump(socket, endpoint, source) });
    this.#watch(socket, "connect", source);
    this.#logger.info({ endpoint, ...source }, "kv events: SUB connected");
  }

  disconnect(key: string): void {
    const conn = this.#connections.get(key);
    if (!conn) return;
    this.#connections.delete(key);
    conn.socket.close();
    this.#logger.info({ endpoint: conn.endpoint }, "kv events: SUB disconnected");
  }

  connectedKeys(): string[] {
    return [...this.#connections.keys()];
  }

  async close(): Promise<void> {
    const all = [...this.#connections.values(), ...(this.#bound ? [this.#bound] : [])];
    this.#connections.clear();
    this.#bound = undefined;
    for (const c of all) c.socket.close();
    await Promise.allSettled(all.map((c) => c.done));
  }

  #socket(): Subscriber {
    const socket = new Subscriber({ receiveHighWaterMark: this.#hwm, linger: 0 });
    socket.subscribe(this.#topicFilter);
    return socket;
  }

  #watch(socket: Subscriber, type: "accept" | "connect", source?: { model: string; pod: string }): void {
    const onPeer = this.#onPeer;
    if (!onPeer) return;
    void (async () => {
      try {
        for await (const event of socket.events) if (event.type === type) onPeer(source);
      } catch {
        // socket closed
      }
    })();
  }

  async #pump(socket: Subscriber, endpoint: string, source?: { model: string; pod: string }): Promise<void> {
    try {
      for await (const frames of socket) {
        try {
          // Awaited only when it returns a promise (back-pressure), not once per message.
          const wait = this.#handler(frames, source);
          if (wait) await wait;
        } catch (err) {
          // One message the handler could not take must not end the receive loop.
          this.#logger.error({ err, endpoint }, "kv events: handler failed on one message; skipped");
        }
      }
    } catch (err) {
      if (!socket.closed) this.#logger.error({ err, endpoint }, "kv events: SUB receive failed");
    }
  }
}
