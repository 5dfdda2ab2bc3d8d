import {
  type BlockIndex,
  createIndex,
  detectVllmVersion,
  type IndexConfig,
  InstrumentedBlockIndex,
  type VllmVersions,
  vllmVersionsOf,
} from "@inferd/block-index";
import { connectNats, type EndpointInventory, type NatsConnection, watchEndpoints } from "@inferd/bus";
import { subjects as subjectsOf } from "@inferd/protocol";
import {
  createMetricsRegistry,
  type Logger,
  natsCredentialsOf,
  type ReadinessCheck,
  type Registry,
  redisLinkOf,
  setupTracing,
} from "@inferd/service-kit";
import { localTokenizerBackend, tokenizerSourcesOf } from "@inferd/tokenizers";
import type { FastifyInstance } from "fastify";
import type { KvIndexConfig } from "./config.ts";
import { BatchHandoff } from "./handoff.ts";
import { type RunningIndexer, startIndexer } from "./indexer/run-indexer.ts";
import { type RunningIngest, startIngest } from "./ingest/run-ingest.ts";
import { buildHttpApp } from "./lookup/http.ts";
import { PrefixLookup } from "./lookup/lookup.ts";
import { serveLookup } from "./lookup/nats-service.ts";
import { LookupTokenizers } from "./lookup/tokenizers.ts";
import { KvIndexMetrics } from "./metrics.ts";
import { ensureKvEventsStream } from "./stream.ts";

export interface RunningKvIndex {
  nc: NatsConnection;
  index: BlockIndex | undefined;
  ingest: RunningIngest | undefined;
  indexer: RunningIndexer | undefined;
  http: FastifyInstance;
  /** http://host:port of the HTTP API. */
  httpUrl: string;
  registry: Registry;
  /** vLLM version rules per model pool: configured, or reported by the servers' GET /version. */
  versions: VllmVersions;
  /** Stops in order: ingest (flushes to JetStream), indexer (drains), lookup, links. */
  stop(): Promise<void>;
}

/**
 * Starts the parts of kv-index the config switches on, in one process: ingest, indexer and
 * lookup can also run as separate deployments (each with its own config) to scale apart.
 */
export async function startKvIndex(config: KvIndexConfig, logger: Logger): Promise<RunningKvIndex> {
  // Tokenizers first: a named model without a usable tokenizer stops the start before any link.
  let inventory: EndpointInventory | undefined;
  const tokenizerSources = tokenizerSourcesOf(config);
  const tokenizers = config.lookup
    ? new LookupTokenizers(tokenizerSources, {
        serverTimeoutMs: config.tokenizerServerTimeoutMs,
        // No worker threads when nothing is ever tokenised here (`tokenizer: estimate`).
        ...(tokenizerSources && { backend: localTokenizerBackend(config.tokenizerWorkers) }),
        addressOf: (model) =>
          [...(inventory?.endpoints.values() ?? [])].find((e) => e.ready && e.model === model && e.address)
            ?.address,
      })
    : undefined;
  try {
    await tokenizers?.start(logger);
  } catch (err) {
    await tokenizers?.close();
    throw err;
  }
  const registry = createMetricsRegistry("kv-index");
  const tracing = setupTracing({ service: "inferd-kv-index", otlpEndpoint: config.otlpEndpoint });
  const subjects = subjectsOf(config.subjectPrefix);
  const nc = await connectNats({
    servers: config.natsUrl,
    name: "kv-index",
    logger,
    credentials: natsCredentialsOf(config),
    // Errors of NATS requests are read by their code, never by their stack, so nats.js need not
    // capture a stack trace for every JetStream API call.
    noAsyncTraces: true,
  });
  const redisLink = redisLinkOf(config) ?? {};
  const needsIndex = config.indexer || config.lookup;
  let index: BlockIndex | undefined;
  if (needsIndex) {
    const indexConfig: IndexConfig = {
      backend: config.indexBackend,
      ...redisLink,
    };
    index = createIndex(indexConfig, "write", config.lookupTimeoutMs, {
      maxEntriesPerEngine: config.maxBlocksPerEngine,
      onDropped: (_model, _engine, count) => metrics.indexerAnomalies.inc({ kind: "engine_full" }, count),
    });
  }
  // Lookups (and metrics scrapes) on Redis get their own fail-fast link (see createIndex); in
  // memory they share the index.
  const readIndex =
    index?.backend === "redis"
      ? createIndex(
          {
            backend: "redis",
            ...redisLink,
          },
          "read",
          config.lookupTimeoutMs,
        )
      : index;
  const metrics = new KvIndexMetrics(registry, readIndex ? () => readIndex.size() : undefined);
  const instrumented = index ? new InstrumentedBlockIndex(index, metrics.indexOpDuration) : undefined;
  const instrumentedRead =
    readIndex && readIndex !== index
      ? new InstrumentedBlockIndex(readIndex, metrics.indexOpDuration)
      : instrumented;

  const streamOptions = {
    maxAgeSeconds: config.streamMaxAgeSeconds,
    maxBytes: config.streamMaxBytes,
    replicas: config.streamReplicas,
  };
  if (config.ingest || config.indexer) await ensureKvEventsStream(nc, subjects, streamOptions);

  const versions = vllmVersionsOf(config);
  const rulesFor = versions.rulesFor;
  // Ingest and indexer in one process: the indexer takes the ingest's batches instead of decoding them.
  const handoff = config.ingest && config.indexer && instrumented ? new BatchHandoff() : undefined;
  if (handoff) metrics.observeHandoff(handoff);
  let indexer: RunningIndexer | undefined;
  if (config.indexer && instrumented) {
    indexer = await startIndexer(
      nc,
      instrumented,
      { logger, metrics },
      {
        blockSize: config.blockSize,
        rulesFor,
        durableName: config.indexerDurable,
        models: config.indexerModels,
        subjectPrefix: config.subjectPrefix,
        maxPending: config.indexerMaxPending,
        lingerMs: config.indexerLingerMs,
        ...(handoff && { handoff }),
        purgeOnInventoryDelete: config.purgeDepartedPods,
        streamReplicas: config.streamReplicas,
        onEndpoint: config.vllmVersionDetect
          ? (ep) => {
              if (!ep.address) return;
              detectVllmVersion(versions, ep.model, ep.address)
                .then(({ reported, rules }) => {
                  logger.info(
                    { model: ep.model, pod: ep.pod, reported, using: rules.version },
                    "vLLM version",
                  );
                })
                .catch((err: Error) =>
                  logger.debug(
                    { pod: ep.pod, err: err.message },
                    "no vLLM version from the server; keeping the configured one",
                  ),
                );
            }
          : undefined,
      },
    );
  }

  let lookup: PrefixLookup | undefined;
  // Models tokenised by their own server (`server` sources): their addresses come from the inventory.
  if (tokenizers?.usesServers)
    inventory = await watchEndpoints(nc, {
      prefix: config.subjectPrefix,
      onError: (err) => logger.warn({ err: err.message }, "unreadable inventory entry"),
    });
  if (tokenizers && instrumentedRead) {
    lookup = new PrefixLookup(instrumentedRead, {
      blockSize: config.blockSize,
      rulesFor,
      tokenize: tokenizers.tokenize,
    });
  }
  const parts = (["ingest", "indexer", "lookup"] as const).filter((p) => config[p]);
  const service = await serveLookup(nc, lookup, { logger, metrics, subjects, parts });

  let ingest: RunningIngest | undefined;
  if (config.ingest) {
    ingest = await startIngest(
      nc,
      { logger, metrics },
      {
        mode: config.zmqMode,
        bindEndpoint: config.zmqBindEndpoint,
        topicFilter: config.zmqTopicFilter,
        useInventory: config.useInventory,
        staticReplayEndpoints: config.replayEndpoints,
        replayTimeoutMs: config.replayTimeoutMs,
        replayAttempts: config.replayAttempts,
        dataParallelSize: config.zmqDataParallelSize,
        replayOnFirstSight: config.replayOnFirstSight,
        onUnrepairedGap: config.onUnrepairedGap,
        subjectPrefix: config.subjectPrefix,
        streamReplicas: config.streamReplicas,
        publishLingerMs: config.publishLingerMs,
        ...(handoff && { handoff }),
      },
    );
  }

  const readiness: ReadinessCheck[] = [{ name: "nats", check: () => !nc.isClosed() }];
  // Ready when the store answers (on the lookups' fail-fast link when there is one) and holds
  // an index generation; an in-memory index is always usable.
  const probe = readIndex ?? index;
  if (probe)
    readiness.push({
      name: "index",
      check: async () => probe.backend === "memory" || (await probe.generation()) !== undefined,
    });
  const http = buildHttpApp({ ...(lookup ? { lookup } : {}), metrics, registry, readiness });
  const address = await http.listen({ port: config.httpPort, host: config.httpHost });
  logger.info(
    {
      http: address,
      ingest: config.ingest ? (ingest?.boundEndpoint ?? config.zmqMode) : false,
      indexer: config.indexer,
      lookup: config.lookup,
      backend: index?.backend,
    },
    "kv-index started",
  );

  return {
    nc,
    index,
    ingest,
    indexer,
    http,
    httpUrl: address.replace("0.0.0.0", "127.0.0.1"),
    registry,
    versions,
    async stop() {
      await ingest?.stop();
      await indexer?.stop();
      await service.stop();
      await tokenizers?.close();
      inventory?.stop();
      await http.close();
      await nc.drain();
      if (readIndex && readIndex !== index) await readIndex.close();
      await index?.close();
      await tracing.shutdown();
    },
  };
}
