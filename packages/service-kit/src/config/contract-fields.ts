import { int, str } from "./fields.ts";

/**
 * Config keys every service that may create the <PREFIX>_REQUESTS stream takes (gateway, scorer),
 * written once so the retention an operator sets means the same in each.
 */
export function requestsStreamFields() {
  return {
    requestsStreamMaxAgeSeconds: int({
      default: 3600,
      min: 1,
      doc: "Retention (age) of the <PREFIX>_REQUESTS stream when this service creates it.",
    }),
    requestsStreamMaxBytes: int({
      default: 1024 ** 3,
      min: 1,
      doc: "Retention (bytes) of the <PREFIX>_REQUESTS stream when this service creates it.",
    }),
  };
}

/**
 * The replica count of every JetStream stream and KV bucket a service creates (or raises an existing
 * one to; never lowered): 3 on a 3-node NATS cluster so losing one server loses no stream. Written
 * once so every service that creates a stream or bucket reads the same key.
 */
export function streamReplicasFields() {
  return {
    streamReplicas: int({
      default: 1,
      min: 1,
      max: 5,
      doc: "Replicas of the streams and KV buckets this service creates or raises (<= NATS cluster size)",
    }),
  };
}

/** The OpenTelemetry exporter key of every traced service. */
export function tracingFields() {
  return {
    otlpEndpoint: str({
      default: "",
      doc: "OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces); empty = spans are not recorded (trace context still passes through)",
    }),
  };
}
