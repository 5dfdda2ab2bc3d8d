/**
 * Wiring only: config -> logger -> links (NATS, endpoint source) -> app -> listen -> shutdown.
 * Run: node services/gateway/src/main.ts [--config gateway.yaml]
 */
import { readFileSync } from "node:fs";
import { connectNats, createStreamIfMissing, type NatsConnection, requestsStreamConfig } from "@inferd/bus";
import {
  createLogger,
  createMetricsRegistry,
  loadConfig,
  natsCredentialsOf,
  onShutdown,
  type ReadinessCheck,
  setupTracing,
} from "@inferd/service-kit";
import { followApiKeyFile } from "./adapters/api-keys-file.ts";
import { registerGateway } from "./adapters/discovery.ts";
import {
  type EmbeddedScorer,
  embeddedScorerConfig,
  startEmbeddedScorer,
} from "./adapters/embedded-scorer.ts";
import { followEndpointBucket } from "./adapters/endpoint-source.ts";
import { eventDropReporter, natsEventSink } from "./adapters/nats-events.ts";
import { natsPicker } from "./adapters/nats-picker.ts";
import { buildApp } from "./app.ts";
import { gatewayConfigSpec } from "./config.ts";
import { ApiKeys } from "./domain/api-keys.ts";
import { Inventory } from "./domain/inventory.ts";
import { ModelPolicies } from "./domain/model-policy.ts";
import { DEFAULT_UPSTREAM, type PickFn } from "./options.ts";

const config = loadConfig("gateway", gatewayConfigSpec, { argv: process.argv.slice(2) });
const logger = createLogger({ service: "gateway", level: config.logLevel });
const tracing = setupTracing({ service: "inferd-gateway", otlpEndpoint: config.otlpEndpoint });
const policies = ModelPolicies.parse(config.modelDefaults, config.models);
const inventory = new Inventory(policies.models());
const registry = createMetricsRegistry("gateway");
const readiness: ReadinessCheck[] = [];

const embedScorer = config.useScorer && config.scorerMode === "embedded";
if (embedScorer && config.natsUrl === "") {
  logger.fatal("scorerMode embedded needs natsUrl (the scorer follows the inventory and events on NATS)");
  process.exit(1);
}
// Before any link: a bad scorer config stops the gateway with the scorer's own lines.
function scorerFailed(err: unknown): never {
  process.stderr.write(`gateway: embedded scorer: ${(err as Error).message}\n`);
  process.exit(2);
}
let scorerConfig: ReturnType<typeof embeddedScorerConfig> | undefined;
try {
  scorerConfig = embedScorer ? embeddedScorerConfig(config) : undefined;
} catch (err) {
  scorerFailed(err);
}

let nc: NatsConnection | undefined;
if (config.natsUrl !== "") {
  nc = await connectNats({
    servers: config.natsUrl,
    name: `gateway-${config.gatewayId}`,
    logger,
    credentials: natsCredentialsOf(config),
    // Request errors are turned into the service's own errors (no caller stack is shown), so
    // nats.js need not capture a stack trace for every pick / publish.
    noAsyncTraces: true,
  });
  const conn = nc;
  readiness.push({ name: "nats", check: () => !conn.isClosed() });
  const streamConfig = requestsStreamConfig(config.subjectPrefix, {
    maxAgeSeconds: config.requestsStreamMaxAgeSeconds,
    maxBytes: config.requestsStreamMaxBytes,
    replicas: config.streamReplicas,
  });
  const stream = await createStreamIfMissing(nc, streamConfig);
  logger.info({ stream: streamConfig.name, state: stream }, "request lifecycle stream");
}

let embedded: EmbeddedScorer | undefined;
if (scorerConfig !== undefined) {
  // A bad policy or tokenizer surfaces here, with the scorer's message.
  embedded = await startEmbeddedScorer(scorerConfig, registry).catch(scorerFailed);
  readiness.push(embedded.readiness);
}
let pick: PickFn | undefined;
if (embedded !== undefined) pick = embedded.pick;
else if (nc !== undefined && config.useScorer) pick = natsPicker(nc, config.subjectPrefix);

const apiKeys = new ApiKeys(policies);
const stopApiKeys =
  config.apiKeysFile !== "" ? followApiKeyFile(config.apiKeysFile, apiKeys, logger) : () => undefined;

if ((config.tlsCertFile === "") !== (config.tlsKeyFile === "")) {
  logger.fatal("tlsCertFile and tlsKeyFile go together");
  process.exit(1);
}
const tls =
  config.tlsCertFile !== ""
    ? { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) }
    : undefined;

const events =
  nc !== undefined
    ? natsEventSink(nc, config.gatewayId, {
        prefix: config.subjectPrefix,
        onDropped: eventDropReporter(registry, logger),
      })
    : undefined;

const app = await buildApp({
  apiKeys,
  tls,
  maxConcurrentPerClient: config.maxConcurrentPerClient,
  logger,
  gatewayId: config.gatewayId,
  inventory,
  policies,
  objectives: new Map(Object.entries(config.objectives)),
  pick,
  pickDeadlineMs: config.pickDeadlineMs,
  localPrefixChunksPerPod: config.localPrefixChunksPerPod,
  events,
  registry,
  readiness,
  bodyLimitBytes: config.bodyLimitBytes,
  listener: {
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    maxHeaderBytes: config.maxHeaderBytes,
  },
  upstream: {
    ...DEFAULT_UPSTREAM,
    connectionsPerEndpoint: config.upstreamConnections,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    headersTimeoutMs: config.upstreamHeadersTimeoutMs,
    bodyTimeoutMs: config.upstreamBodyTimeoutMs,
  },
  queueRetryIntervalMs: config.queueRetryIntervalMs,
  demandIntervalMs: config.demandIntervalMs,
});

let stopWatch: (() => void) | undefined;
if (config.endpoints.length > 0) {
  inventory.replaceAll(config.endpoints);
  logger.info({ endpoints: config.endpoints.length }, "static endpoint list");
} else if (nc !== undefined) {
  let synced = false;
  readiness.push({ name: "endpoints", check: () => synced });
  const watch = await followEndpointBucket(
    nc,
    inventory,
    () => app.flowControl.wakeAll(),
    (err) => logger.warn({ err }, "malformed endpoint in the endpoints bucket; skipped"),
    config.subjectPrefix,
    config.streamReplicas,
  );
  stopWatch = watch.stop;
  void watch.initialized.then(() => {
    synced = true;
    logger.info({ endpoints: inventory.all().length }, "endpoint inventory synced");
  });
} else {
  logger.warn("no natsUrl and no static endpoints: every request will get 404/503");
}

await app.listen({ host: config.host, port: config.port });
const registration =
  nc !== undefined
    ? await registerGateway(nc, {
        prefix: config.subjectPrefix,
        gatewayId: config.gatewayId,
        port: config.port,
        version: "0.1.0",
      })
    : undefined;
logger.info(
  {
    host: config.host,
    port: config.port,
    tls: tls !== undefined,
    scorer: pick === undefined ? "none" : embedded !== undefined ? "embedded" : "nats",
  },
  "gateway listening",
);

onShutdown(
  logger,
  [
    // app.close stops accepting, answers queued requests 503 and waits for in-flight ones.
    { name: "http", run: () => app.close() },
    { name: "registration", run: async () => void (await registration?.stop()) },
    { name: "endpoints", run: () => stopWatch?.() },
    { name: "api-keys", run: () => stopApiKeys() },
    // The last requests' lifecycle events, stored before the link closes (within the deadline).
    { name: "events", run: async () => void (await events?.flush()) },
    // No request needs a pick any more; the scorer's links close before the gateway's NATS.
    { name: "scorer", run: async () => void (await embedded?.stop()) },
    { name: "nats", run: async () => void (await nc?.drain()) },
    { name: "tracing", run: () => tracing.shutdown() },
  ],
  { deadlineMs: config.shutdownDeadlineMs },
);
