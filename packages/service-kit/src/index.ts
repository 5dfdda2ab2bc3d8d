export { Registry } from "prom-client";
export { requestsStreamFields, streamReplicasFields, tracingFields } from "./config/contract-fields.ts";
export {
  natsCredentialFields,
  natsCredentialsOf,
  type RedisCredentials,
  type RedisLink,
  redisCredentialFields,
  redisCredentialsOf,
  redisLinkFields,
  redisLinkOf,
} from "./config/credentials.ts";
export { bool, type Field, type FieldValue, int, json, list, num, oneOf, str } from "./config/fields.ts";
export {
  ConfigError,
  type ConfigOf,
  type ConfigSpec,
  camelKey,
  configFileFromArgv,
  describeConfig,
  envName,
  type LoadConfigOptions,
  loadConfig,
} from "./config/load-config.ts";
export { parseConfigYaml } from "./config/yaml.ts";
export { createLogger, type Logger, type LoggerOptions } from "./logger.ts";
export { createMetricsRegistry } from "./metrics.ts";
export {
  evaluateReadiness,
  type OpsRoutesOptions,
  type ReadinessCheck,
  registerOpsRoutes,
} from "./ops-routes.ts";
export { type OpsServer, type OpsServerOptions, startOpsServer } from "./ops-server.ts";
export { onShutdown, type ShutdownOptions, type ShutdownStep } from "./shutdown.ts";
export {
  context,
  propagation,
  type Span,
  SpanKind,
  setupPropagation,
  setupTracing,
  type Tracer,
  type Tracing,
  type TracingOptions,
  trace,
} from "./tracing.ts";
