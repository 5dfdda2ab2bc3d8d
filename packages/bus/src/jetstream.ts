import type { DescMessage, MessageShape, WireFormat } from "@inferd/protocol";
import {
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { encodeMessage, messageHeaders } from "./message.ts";
import { raiseStreamReplicas, replicasToApply } from "./replicas.ts";

export type { ConsumerConfig, JetStreamClient, JsMsg, StreamConfig } from "@nats-io/jetstream";
export {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return (
    e?.api_error?.err_code === 10059 ||
    e?.api_error?.err_code === 10014 ||
    /not found/i.test(e?.message ?? "")
  );
}

/**
 * Creates the stream, or updates it to `config` when it exists: safe to call at every start of
 * every replica. Fields the server cannot change in place (e.g. storage) raise its error. Replicas
 * are only ever raised (see replicasToApply): services sharing a stream must not pull it down.
 */
export async function ensureStream(
  nc: NatsConnection,
  config: Partial<StreamConfig> & { name: string; subjects: string[] },
): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  try {
    const existing = await jsm.streams.info(config.name);
    // Raised first, on their own: the stream takes no other update until its new peers have a leader.
    await raiseStreamReplicas(nc, config.name, config.num_replicas);
    const num_replicas = replicasToApply(existing.config.num_replicas, config.num_replicas);
    return await jsm.streams.update(config.name, { ...existing.config, ...config, num_replicas });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return jsm.streams.add(config);
  }
}

/** Creates a durable consumer or updates it in place (same idempotence as ensureStream). */
export async function ensureConsumer(
  nc: NatsConnection,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<ConsumerInfo> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.consumers.info(stream, config.durable_name);
    return await jsm.consumers.update(stream, config.durable_name, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return jsm.consumers.add(stream, config);
  }
}

/**
 * Publishes a protobuf message to a stream subject. `msgId` sets Nats-Msg-Id, which the
 * server uses to drop duplicates inside the stream's duplicate window.
 */
export async function publishMessage<D extends DescMessage>(
  js: JetStreamClient,
  subject: string,
  schema: D,
  message: MessageShape<D>,
  options: { msgId?: string; format?: WireFormat; timeoutMs?: number } = {},
): Promise<{ seq: number; duplicate: boolean }> {
  const format = options.format ?? "protobuf";
  const ack = await js.publish(subject, encodeMessage(schema, message, format), {
    headers: messageHeaders(schema, format),
    ...(options.msgId ? { msgID: options.msgId } : {}),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
  });
  return { seq: ack.seq, duplicate: ack.duplicate };
}

export function jetStreamClient(nc: NatsConnection): JetStreamClient {
  return jetstream(nc);
}
