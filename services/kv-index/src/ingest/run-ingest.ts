import { type EndpointInventory, type NatsConnection, watchEndpoints } from "@inferd/bus";
import { type Endpoint, parseModelPod, type Subjects, subjects as subjectsOf } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { BatchHandoff } from "../handoff.ts";
import type { KvIndexMetrics } from "../metrics.ts";
import { Coalescer } from "./coalescer.ts";
import { Ingest, type IngestOptions } from "./ingest.ts";
import { BatchPublisher } from "./jetstream-publisher.ts";
import { connectableEndpoint, offsetEndpointPort, requestReplay } from "./replay-client.ts";
import { ZmqSource } from "./zmq-source.ts";

export interface IngestRunOptions extends IngestOptions {
  /** "bind": one SUB bound on `bindEndpoint`; "connect": one SUB per inventory endpoint. */
  mode: "bind" | "connect";
  bindEndpoint: string;
  /** ZeroMQ subscription prefix (default "": every topic; llm-d uses "kv@"). */
  topicFilter?: string;
  /** Follow INFERD_ENDPOINTS (required in connect mode; in bind mode it supplies replay endpoints). */
  useInventory: boolean;
  /** Replay endpoints by pod, for engines not in the inventory (bind mode). */
  staticReplayEndpoints?: Record<string, string>;
  replayTimeoutMs?: number;
  /** Data-parallel ranks per engine in connect mode, unless the endpoint's label says (default 1). */
  dataParallelSize?: number;
  subjectPrefix?: string;
  maxInFlight?: number;
  /**
   * An engine's first pending batch waits this long for its next ones, merged into one stream
   * message (config publishLingerMs; 0: one message per batch). See Coalescer.
   */
  publishLingerMs?: number;
  /** The indexer of this process, if it runs here (see BatchHandoff). */
  handoff?: BatchHandoff;
  /** Replicas of INFERD_ENDPOINTS when this creates or raises it (streamReplicas; default 1). */
  streamReplicas?: number;
}

/** Endpoint label giving vLLM's --data-parallel-size (connect mode opens one SUB per rank). */
export const DP_SIZE_LABEL = "data-parallel-size";

export interface RunningIngest {
  ingest: Ingest;
  /** The SUB endpoint actually bound (bind mode). */
  boundEndpoint: string | undefined;
  stop(): Promise<void>;
}

/** Wires ingest: ZeroMQ sockets -> Ingest -> JetStream, with replay and the inventory. */
export async function startIngest(
  nc: NatsConnection,
  deps: { logger: Logger; metrics: KvIndexMetrics },
  options: IngestRunOptions,
): Promise<RunningIngest> {
  const subjects: Subjects = subjectsOf(options.subjectPrefix);
  const logger = deps.logger.child({ part: "ingest" });
  const publisher = new BatchPublisher(
    nc,
    subjects,
    { logger, metrics: deps.metrics },
    {
      ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
      ...(options.handoff && { handoff: options.handoff }),
    },
  );
  // Publishes written to a connection that died are retried only after their timeout: hold the
  // newer ones until then, so each engine's batches are stored in order.
  void (async () => {
    for await (const status of nc.status()) if (status.type === "disconnect") publisher.hold();
  })();
  let inventory: EndpointInventory | undefined;
  const merged = new Coalescer(
    (batch, msgId, batches, reason) => {
      deps.metrics.ingestMessages.inc({ reason });
      deps.metrics.ingestBatchesPerMessage.observe(batches);
      try {
        publisher.publish(batch, msgId);
      } catch (err) {
        // Out of a timer: counted and logged, never an uncaught exception. The decoder bounds every
        // field, so this is not expected.
        deps.metrics.publishErrors.inc();
        logger.error(
          { err, pod: batch.pod, seq: String(batch.seq) },
          "kv events: message not encodable; dropped",
        );
      }
    },
    { lingerMs: options.publishLingerMs ?? 0 },
  );

  const replayEndpointOf = (model: string, pod: string): string | undefined => {
    const ep = inventory?.endpoints.get(subjects.endpointKey(model, pod));
    if (ep?.kvReplayEndpoint) return connectableEndpoint(ep.kvReplayEndpoint, ep.address);
    return options.staticReplayEndpoints?.[pod];
  };

  const ingest = new Ingest(
    {
      publish: (batch, msgId) => merged.add(batch, msgId),
      replay: async (model, pod, rank, fromSeq) => {
        const endpoint = replayEndpointOf(model, pod);
        if (!endpoint) return null;
        return requestReplay(offsetEndpointPort(endpoint, rank), fromSeq, {
          timeoutMs: options.replayTimeoutMs ?? 2_000,
        });
      },
      logger,
      metrics: deps.metrics,
    },
    options,
  );

  const source = new ZmqSource(
    (frames, from) => {
      ingest.handleFrames(frames, from);
      return publisher.whenReady();
    },
    logger,
    {
      topicFilter: options.topicFilter ?? "",
      onPeerConnected: (from) => ingest.suspect(from?.model, from?.pod),
    },
  );

  const follow = (key: string, ep: Endpoint | undefined) => {
    if (options.mode !== "connect") return;
    if (!ep) {
      for (const k of source.connectedKeys())
        if (k === key || k.startsWith(`${key}#dp`)) source.disconnect(k);
      return;
    }
    if (!ep.kvEventsEndpoint) return;
    source.connect(key, connectableEndpoint(ep.kvEventsEndpoint, ep.address), {
      model: ep.model,
      pod: ep.pod,
    });
    if (ep.kvReplayEndpoint) void ingest.catchUp(ep.model, ep.pod);
  };

  if (options.useInventory || options.mode === "connect") {
    inventory = await watchEndpoints(nc, {
      prefix: subjects.prefix,
      replicas: options.streamReplicas,
      onChange: (key, ep) => {
        if (!ep) {
          try {
            const { model, pod } = parseModelPod(key);
            ingest.forgetPod(model, pod);
            const dropped = merged.dropPod(model, pod);
            if (dropped > 0)
              logger.debug({ model, pod, dropped }, "pending batches of a departed pod dropped");
          } catch {
            // a key that is not <model>.<pod> names no engine of ours
          }
        }
        follow(key, ep);
      },
      onError: (err) => logger.warn({ err: err.message }, "inventory entry could not be read"),
    });
    await inventory.initialized;
  }
  if (options.mode === "bind") await source.bind(options.bindEndpoint);

  return {
    ingest,
    boundEndpoint: source.boundEndpoint,
    async stop() {
      inventory?.stop();
      await source.close();
      await ingest.settled();
      merged.flushAll();
      await publisher.flush();
    },
  };
}
