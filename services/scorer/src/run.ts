import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { createIndex, vllmVersionsOf } from "@inferd/block-index";
import { connectNats, type NatsConnection } from "@inferd/bus";
import { type PickRequest, type PickResponse, subjects } from "@inferd/protocol";
import {
  createLogger,
  createMetricsRegistry,
  type Logger,
  natsCredentialsOf,
  type OpsServer,
  redisLinkOf,
  setupTracing,
  startOpsServer,
} from "@inferd/service-kit";
import { InlineBackend, localTokenizerBackend, tokenizerSourcesOf } from "@inferd/tokenizers";
import { Counter, Histogram, type Registry } from "prom-client";
import { type DecisionSync, syncDecisions } from "./adapters/decision-sync.ts";
import { followEndpointBucket, loadStaticEndpoints } from "./adapters/endpoint-source.ts";
import { type IndexReplica, startIndexReplica } from "./adapters/index-replica.ts";
import { natsKvLookup } from "./adapters/kv-lookup.ts";
import { followLoad } from "./adapters/load-follower.ts";
import { ScorerMetrics } from "./adapters/metrics.ts";
import { inProcessPick, pickHandler, servePick } from "./adapters/pick-server.ts";
import { consumeRequestEvents } from "./adapters/requests-consumer.ts";
import { Scraper } from "./adapters/scraper.ts";
import { ModelTokenizers } from "./adapters/tokenize/model-tokenizers.ts";
import { CachedTokenAudit, TokenizerMetrics } from "./adapters/tokenize/tokenizer-metrics.ts";
import { VllmVersionDetector } from "./adapters/vllm-version-detect.ts";
import type { ScorerConfig } from "./config.ts";
import { createScorerCore, type PolicySource, type ScorerCore } from "./core.ts";
import { ConfigError } from "./framework/errors.ts";
import type { KvLookupFn, TokenizerFn } from "./framework/handle.ts";

export interface RunningScorer {
  readonly core: ScorerCore;
  readonly nc: NatsConnection;
  /** The ops server (/metrics /healthz /readyz); none when embedded (the host process serves them). */
  readonly ops: OpsServer | undefined;
  /**
   * One pick in process: what `inferd.v1.sched.pick` answers, with the same metrics, log lines and
   * span (kind INTERNAL, child of the caller's active span, through the process's tracer provider).
   */
  pick(request: PickRequest): Promise<PickResponse>;
  readonly registry: Registry;
  readonly logger: Logger;
  /** The in-process index replica (indexReplica with kvLookup), for tests and tools. */
  readonly replica: IndexReplica | undefined;
  /** Stops serving picks, then closes consumers, scraper and links, in that order. */
  stop(): Promise<void>;
}

const VERSION = "0.1.0";

export interface RunScorerOptions {
  logger?: Logger;
  /**
   * Run inside another service's process (the gateway's `scorerMode: embedded`): the scorer's metrics
   * go into `registry` (the host's /metrics; no second set of process metrics), and it starts no ops
   * server, serves no `inferd.v1.sched.pick` (picks come through `pick()`) and sets up no tracing
   * of its own (the host's tracer provider is the process's; it records the picks' spans).
   */
  embedded?: { registry: Registry };
}

async function readPickerConfig(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`pickerConfig: cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * Starts one scorer replica: NATS link, tokenizer, policy, endpoint inventory, scraper, lifecycle-event
 * consumer, the pick service and the ops server. Used by main.ts, the CLI and integration tests.
 */
export async function runScorer(config: ScorerConfig, opts: RunScorerOptions = {}): Promise<RunningScorer> {
  const logger = opts.logger ?? createLogger({ service: "scorer", level: config.logLevel });
  const embedded = opts.embedded;
  const tracing = embedded
    ? { shutdown: async () => undefined }
    : setupTracing({ service: "inferd-scorer", otlpEndpoint: config.otlpEndpoint });
  const policy: PolicySource = config.pickerConfig
    ? { kind: "config", text: await readPickerConfig(config.pickerConfig), source: config.pickerConfig }
    : { kind: "builtin", name: config.profile };
  const registry = embedded?.registry ?? createMetricsRegistry("scorer");
  const metrics = new ScorerMetrics(registry);
  const tokenizerMetrics = new TokenizerMetrics(registry);
  const audit = new CachedTokenAudit((model) => tokenizerMetrics.missedServerHits.inc({ model }));
  const replicaId = config.replicaId || `scorer-${hostname()}-${process.pid}`;

  // Build the policy before any link, so a bad config fails at once with its message.
  let lookupOverNats: KvLookupFn | undefined;
  let tokenize: TokenizerFn | undefined;
  let decisions: DecisionSync | undefined;
  let replica: IndexReplica | undefined;
  const lookups = new Counter({
    name: "inferd_scorer_kv_lookups_total",
    help: "Precise prefix lookups, by where they were answered: the in-process index replica or kv-index over NATS.",
    labelNames: ["source"],
    registers: [registry],
  });
  const fromReplica = lookups.labels({ source: "replica" });
  const fromKvIndex = lookups.labels({ source: "kv-index" });
  const kvLookup: KvLookupFn | undefined = config.kvLookup
    ? async (q) => {
        // In process once the replica caught up and the scorer tokenised; kv-index otherwise.
        if (replica?.ready && q.tokens !== undefined) {
          fromReplica.inc();
          return replica.lookup({ ...q, tokens: q.tokens });
        }
        fromKvIndex.inc();
        if (!lookupOverNats) throw new Error("kv-index link not ready");
        const end = metrics.kvLookupDuration.startTimer();
        try {
          return await lookupOverNats(q);
        } catch (err) {
          metrics.kvLookupErrors.inc({ code: String((err as { code?: unknown }).code ?? "error") });
          throw err;
        } finally {
          end();
        }
      }
    : undefined;
  const predictionError = new Histogram({
    name: "inferd_scorer_latency_prediction_error_ratio",
    help: "Learned latency model: |predicted - actual| / actual of each TTFT and TPOT, before learning from it.",
    labelNames: ["target"],
    buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5],
    registers: [registry],
  });
  const core: ScorerCore = createScorerCore({
    policy,
    ttftPrior: { overheadMs: config.ttftOverheadMs, prefillTokensPerSecond: config.prefillTokensPerSecond },
    tpotPriorMs: config.tpotPriorMs,
    onPredictionError: (e) => {
      if (e.actualMs > 0)
        predictionError.observe({ target: e.target }, Math.abs(e.predictedMs - e.actualMs) / e.actualMs);
    },
    speculativeTtlMs: config.speculativeTtlMs,
    maxInflightAgeMs: config.maxInflightAgeMs,
    metricsStalenessMs: config.metricsStalenessMs,
    timer: metrics.timer,
    ...(kvLookup ? { kvLookup } : {}),
    ...(config.tokenizer !== "estimate" ? { tokenizer: (model, prompt) => tokenize?.(model, prompt) } : {}),
    onDecision: (d) => {
      audit.picked(d.requestId, d.baseModel, d.pod, d.cachedTokens);
      decisions?.publish(d);
    },
  });

  // Tokenizers before any link: a named model without a usable tokenizer stops the start-up here.
  let tokenizers: ModelTokenizers | undefined;
  const tokenizerSources = tokenizerSourcesOf(config);
  if (tokenizerSources !== undefined) {
    tokenizers = new ModelTokenizers({
      sources: tokenizerSources,
      backend: localTokenizerBackend(config.tokenizerWorkers),
      ...(config.tokenizerWorkers > 0 && config.tokenizerInlineWarmupMaxMs > 0
        ? {
            inline: {
              backend: new InlineBackend(),
              warmupMaxMs: config.tokenizerInlineWarmupMaxMs,
            },
          }
        : {}),
      addressOf: (model) => core.endpoints.all().find((e) => e.ready && e.model === model)?.address,
      serverTimeoutMs: config.tokenizerServerTimeoutMs,
      logger,
      observer: tokenizerMetrics,
    });
    try {
      await tokenizers.start();
    } catch (err) {
      await tokenizers.close();
      throw err;
    }
    const t = tokenizers;
    tokenize = (model, prompt) => t.tokenize(model, prompt);
  }
  const versions = vllmVersionsOf(config);
  const versionDetector = config.vllmVersionDetect ? new VllmVersionDetector(versions, logger) : undefined;
  const nc = await connectNats({
    servers: config.natsUrl,
    name: replicaId,
    logger,
    credentials: natsCredentialsOf(config),
  });
  if (config.kvLookup) {
    lookupOverNats = natsKvLookup(nc, { prefix: config.subjectPrefix, timeoutMs: config.kvLookupTimeoutMs });
    if (config.indexReplica) {
      if (config.indexReplicaRedisUrl !== "")
        logger.warn("indexReplicaRedisUrl is deprecated, use redisUrl (it goes in the next release)");
      // kv-index's Redis, with kv-index's keys (credentials, TLS, cluster).
      const redis = redisLinkOf({ ...config, redisUrl: config.redisUrl || config.indexReplicaRedisUrl });
      replica = startIndexReplica(nc, {
        prefix: config.subjectPrefix,
        blockSize: config.indexReplicaBlockSize,
        maxBlocksPerEngine: config.indexReplicaMaxBlocksPerEngine,
        rulesFor: versions.rulesFor,
        bootstrapFrom: redis ? () => createIndex({ backend: "redis", ...redis }, "read", 10_000) : undefined,
        logger,
        registry,
      });
    }
  }
  for (const w of core.config.warnings)
    logger.warn({ policy: policy.kind === "config" ? policy.source : policy.name }, w);
  logger.info({ policy: core.description.split("\n")[0] }, "policy loaded");

  let inventory: { stop(): void } | undefined;
  if (config.endpointsFile) await loadStaticEndpoints(config.endpointsFile, core.endpoints);
  else
    inventory = await followEndpointBucket(nc, core.endpoints, {
      logger,
      prefix: config.subjectPrefix,
      replicas: config.streamReplicas,
      onRemove: (pod) => core.load.forget(pod),
    });
  logger.info(
    {
      endpoints: core.endpoints.all().length,
      source: config.endpointsFile || subjects(config.subjectPrefix).buckets.endpoints,
    },
    "endpoints loaded",
  );
  // Load the tokenizers of the models already served before answering picks (as a worker does it,
  // this costs the event loop nothing); models that appear later load on their first pick.
  versionDetector?.observe(core.endpoints.all());
  if (tokenizers)
    await Promise.all(
      [...new Set(core.endpoints.all().map((e) => e.model))].map((m) => tokenizers!.prepare(m)),
    );

  const scraper = new Scraper(core.endpoints, core.load, core.inflight, {
    intervalMs: config.scrapeIntervalMs,
    quietIntervalMs: config.scrapeQuietIntervalMs,
    maxScrapesPerSecond: config.scrapeMaxPerSecond,
    timeoutMs: config.scrapeTimeoutMs,
    publish: config.publishLoad
      ? {
          nc,
          prefix: config.subjectPrefix,
          source: replicaId,
          minIntervalMs: config.loadPublishMinIntervalMs,
        }
      : null,
    logger,
    metrics,
  });
  scraper.start();
  const loadFollower = config.followLoad
    ? followLoad(nc, core.load, { prefix: config.subjectPrefix, replicaId, logger })
    : undefined;

  if (config.shareDecisions) {
    decisions = syncDecisions(nc, {
      prefix: config.subjectPrefix,
      replicaId,
      logger,
      apply: (d) => core.applyDecision(d),
    });
  }
  const events = await consumeRequestEvents(nc, {
    prefix: config.subjectPrefix,
    limits: {
      maxAgeSeconds: config.requestsStreamMaxAgeSeconds,
      maxBytes: config.requestsStreamMaxBytes,
      replicas: config.streamReplicas,
    },
    replayMs: config.requestsReplayMs,
    logger,
    apply: (ev, phase) => {
      core.applyEvent(ev);
      audit.observed(ev.requestId, ev.endpoint, ev.cachedTokens, phase === "completed" || phase === "failed");
      metrics.lifecycleEvent(phase).inc();
    },
  });
  const housekeeping = setInterval(() => {
    core.sweep();
    // Models that joined the inventory since: load their tokenizers before their first pick needs them.
    if (tokenizers) for (const e of core.endpoints.all()) void tokenizers.prepare(e.model);
    versionDetector?.observe(core.endpoints.all());
    metrics.inflightRequests.reset();
    metrics.inflightTokens.reset();
    for (const pod of core.inflight.pods()) {
      const l = core.inflight.load(pod);
      metrics.inflightRequests.set({ pod }, l.requests);
      metrics.inflightTokens.set({ pod }, l.tokens);
    }
    metrics.eppReadyEndpoints.set(core.endpoints.all().filter((e) => e.ready).length);
  }, 1_000);
  housekeeping.unref();

  const handler = pickHandler(core.picks, { logger, metrics });
  const service = embedded
    ? undefined
    : await servePick(nc, handler, { prefix: config.subjectPrefix, version: VERSION, logger });
  const ops = embedded
    ? undefined
    : await startOpsServer({
        host: config.opsHost,
        port: config.opsPort,
        registry,
        logger,
        readiness: [{ name: "nats", check: () => !nc.isClosed() }],
      });
  if (embedded) logger.info({ replicaId }, "scorer ready (embedded: picks in process, none over NATS)");
  else
    logger.info(
      { subject: `${config.subjectPrefix}.v1.sched.pick`, opsPort: ops?.port, replicaId },
      "scorer ready",
    );

  return {
    core,
    nc,
    ops,
    registry,
    logger,
    replica,
    pick: inProcessPick(handler, config.subjectPrefix),
    async stop() {
      await service?.stop();
      clearInterval(housekeeping);
      await events.stop();
      decisions?.stop();
      await replica?.stop();
      scraper.stop();
      loadFollower?.stop();
      inventory?.stop();
      await ops?.close();
      await nc.drain();
      await tracing.shutdown();
      await tokenizers?.close();
    },
  };
}
