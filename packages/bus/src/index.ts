export {
  AckedPublisher,
  type AckedPublisherOptions,
  type DropReason,
  type PubAckInfo,
} from "./acked-publisher.ts";
export { type ServiceClient, serviceClient } from "./client.ts";
export { type ConnectNatsOptions, connectNats, type NatsConnection } from "./connection.ts";
export {
  autoscalerLeaseBucket,
  createStreamIfMissing,
  DECISIONS_STREAM_LIMITS,
  decisionsStreamConfig,
  limitsConfig,
  REQUESTS_STREAM_LIMITS,
  requestsStreamConfig,
  type StreamLimits,
} from "./contract-streams.ts";
export { type NatsCredentials, NatsCredentialsError, natsAuthOptions } from "./credentials.ts";
export {
  deleteEndpoint,
  type EndpointInventory,
  type KV,
  type KvEntry,
  openKv,
  parseEndpointKey,
  putEndpoint,
  type WatchEndpointsOptions,
  watchEndpoints,
} from "./endpoints.ts";
export { ServiceCallError, ServiceError } from "./errors.ts";
export {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  ensureConsumer,
  ensureStream,
  type JetStreamClient,
  type JsMsg,
  jetStreamClient,
  jetstream,
  jetstreamManager,
  publishMessage,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "./jetstream.ts";
export { decodeMessage, encodeMessage, formatOf, messageHeaders } from "./message.ts";
export { schemaEndpoint } from "./schema-endpoint.ts";
export {
  defineEndpoint,
  type EndpointSpec,
  endpointSpan,
  inProcessEndpoint,
  type ServeServiceOptions,
  serveService,
} from "./service.ts";
export { contextOf, inSpan, withTraceContext } from "./trace-context.ts";
