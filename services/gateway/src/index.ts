export { followEndpointBucket } from "./adapters/endpoint-source.ts";
export { natsEventSink } from "./adapters/nats-events.ts";
export { natsPicker } from "./adapters/nats-picker.ts";
export { buildApp } from "./app.ts";
export { type GatewayConfig, gatewayConfigSpec, parseStaticEndpoints } from "./config.ts";
export { Inventory, type InventoryEndpoint } from "./domain/inventory.ts";
export { DEFAULT_POLICY, type FailureMode, ModelPolicies, type ModelPolicy } from "./domain/model-policy.ts";
export {
  DEFAULT_UPSTREAM,
  type EventSink,
  type GatewayOptions,
  type PickFn,
  type UpstreamOptions,
} from "./options.ts";
