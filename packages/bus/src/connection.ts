import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { type NatsCredentials, natsAuthOptions } from "./credentials.ts";

export type { NatsConnection } from "@nats-io/nats-core";

export interface ConnectNatsOptions {
  /** One URL or a comma-separated list, e.g. nats://127.0.0.1:4222. */
  servers: string | string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name: string;
  logger?: Logger;
  /** Keep retrying the first connection instead of failing at once (default true). */
  waitOnFirstConnect?: boolean;
  /**
   * Skip capturing a stack trace for every request and JetStream publish (nats.js builds two
   * Error objects per call otherwise, ~10% of kv-index ingest CPU). Errors then carry no caller stack.
   */
  noAsyncTraces?: boolean;
  /** Auth and TLS (see NatsCredentials); default none. */
  credentials?: NatsCredentials;
}

/**
 * Connects with unlimited reconnects (every 250 ms with jitter) and logs every state change
 * once, so an operator sees "disconnected" / "reconnected" lines rather than silence.
 */
export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const servers = (Array.isArray(options.servers) ? options.servers : options.servers.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  const nc = await connect({
    ...natsAuthOptions(options.credentials),
    servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: options.waitOnFirstConnect ?? true,
    pingInterval: 10_000,
    noAsyncTraces: options.noAsyncTraces ?? false,
  });
  const log = options.logger;
  if (log) {
    log.info({ server: nc.getServer() }, "nats connected");
    void (async () => {
      for await (const s of nc.status()) {
        switch (s.type) {
          case "disconnect":
            log.warn({ server: s.server }, "nats disconnected; reconnecting");
            break;
          case "reconnect":
            log.info({ server: s.server }, "nats reconnected");
            break;
          case "error":
            log.error({ err: s.error }, "nats error");
            break;
          case "slowConsumer":
            log.warn({ sub: s.sub.getSubject() }, "nats slow consumer: messages dropped");
            break;
          default:
            break;
        }
      }
    })();
  }
  return nc;
}
