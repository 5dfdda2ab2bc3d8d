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

/** The OpenTelemetry exporter key of every traced service. */
export function tracingFields() {
  return {
    otlpEndpoint: str({
      default: "",
      doc: "OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces); empty = spans are not recorded (trace context still passes through)",
    }),
  };
}
