import { connectNats, DeliverPolicy, jetstream, type NatsConnection, openKv, putEndpoint } from "@inferd/bus";
import {
  BUCKETS,
  create,
  decode,
  EndpointRole,
  EndpointSchema,
  type ScaleDecision,
  ScaleDecisionSchema,
  STREAMS,
  timestampNow,
} from "@inferd/protocol";

export async function connect(url: string): Promise<NatsConnection> {
  return connectNats({ servers: url, name: "autoscaler-test" });
}

/** Writes `n` endpoints of a pool into INFERD_ENDPOINTS (the deployer's part). */
export async function putReplicas(
  nc: NatsConnection,
  model: string,
  pool: string,
  n: number,
  ready = true,
): Promise<void> {
  const kv = await openKv(nc, BUCKETS.endpoints, { history: 1 });
  for (let i = 0; i < n; i++) {
    await putEndpoint(
      kv,
      create(EndpointSchema, {
        model,
        pod: `${pool}-${i}`,
        address: `http://127.0.0.1:${9 + i}`,
        role: EndpointRole.BOTH,
        ready,
        pool,
        updatedAt: timestampNow(),
      }),
    );
  }
}

/** Every ScaleDecision in INFERD_DECISIONS so far (empty when the stream does not exist yet). */
export async function readDecisions(nc: NatsConnection): Promise<ScaleDecision[]> {
  const js = jetstream(nc);
  let consumer: Awaited<ReturnType<typeof js.consumers.get>>;
  try {
    consumer = await js.consumers.get(STREAMS.decisions, { deliver_policy: DeliverPolicy.All });
  } catch {
    return [];
  }
  const out: ScaleDecision[] = [];
  const info = await consumer.info(true);
  let pending = info.num_pending;
  if (pending === 0) return out;
  const messages = await consumer.fetch({ max_messages: pending, expires: 2000 });
  for await (const m of messages) {
    out.push(decode(ScaleDecisionSchema, m.data));
    if (--pending === 0) break;
  }
  return out;
}
