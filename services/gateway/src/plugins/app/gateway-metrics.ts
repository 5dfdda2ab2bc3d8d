import fp from "fastify-plugin";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Every Prometheus series of the gateway, created once on the app's registry. inferd's own
 * names carry the `inferd_gateway_` prefix; where the meaning matches llm-d's endpoint picker,
 * the same observation is also recorded under the `llm_d_epp_` name and labels, so existing
 * llm-d dashboards work unchanged.
 */
export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  const latency = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
  const itl = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.5];
  // Fine around 1-5 ms, where the pick path's latency goal (added p50 <= 2.5 ms) is judged.
  const overhead = [
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025,
    0.05, 0.1,
  ];
  const tokens = [16, 64, 256, 1024, 4096, 16384, 65536, 262144];
  return {
    refused: new Counter({
      name: "inferd_gateway_refused_requests_total",
      help: "Requests the gateway refused itself (validation, auth, limits, shedding, no capacity), by reason.",
      labelNames: ["reason", "status"],
      registers,
    }),
    requests: new Counter({
      name: "inferd_gateway_requests_total",
      help: "Requests finished, by model and outcome (ok or an error code).",
      labelNames: ["model", "outcome"],
      registers,
    }),
    ttft: new Histogram({
      name: "inferd_gateway_ttft_seconds",
      help: "Admission to first token (streaming) or to the first response byte (non-streaming).",
      labelNames: ["model", "streaming"],
      buckets: latency,
      registers,
    }),
    itl: new Histogram({
      name: "inferd_gateway_itl_seconds",
      help: "Gap between two streamed chunks as seen by the gateway.",
      labelNames: ["model"],
      buckets: itl,
      registers,
    }),
    e2e: new Histogram({
      name: "inferd_gateway_e2e_seconds",
      help: "Admission to the last byte of the response.",
      labelNames: ["model"],
      buckets: latency,
      registers,
    }),
    inFlight: new Gauge({
      name: "inferd_gateway_in_flight_requests",
      help: "Requests being proxied to a model server.",
      labelNames: ["model"],
      registers,
    }),
    queueSize: new Gauge({
      name: "inferd_gateway_queue_size",
      help: "Requests waiting in flow control (saturated pool or pool at zero), by priority band.",
      labelNames: ["model", "priority"],
      registers,
    }),
    queueWait: new Histogram({
      name: "inferd_gateway_queue_wait_seconds",
      help: "Time requests spent in flow control, by how the wait ended.",
      labelNames: ["model", "outcome"],
      buckets: latency,
      registers,
    }),
    addedLatency: new Histogram({
      name: "inferd_gateway_added_latency_seconds",
      help: "Gateway time before the upstream request was sent (body handling, pick, routing), queue wait excluded.",
      labelNames: ["model"],
      buckets: overhead,
      registers,
    }),
    pickDuration: new Histogram({
      name: "inferd_gateway_pick_duration_seconds",
      help: "Scorer call time, by result (ok, saturated, no_endpoints, timeout, unreachable...).",
      labelNames: ["result"],
      buckets: overhead,
      registers,
    }),
    upstreamAttempts: new Counter({
      name: "inferd_gateway_upstream_attempts_total",
      help: "Attempts to reach a model server: served, refused (connect error), unavailable (503, next endpoint tried).",
      labelNames: ["model", "result"],
      registers,
    }),
    prefillFailures: new Counter({
      name: "inferd_gateway_pd_prefill_failures_total",
      help: "Prefill legs that failed; the request then ran aggregated on the decode endpoint.",
      labelNames: ["model"],
      registers,
    }),
    failOpen: new Counter({
      name: "inferd_gateway_scorer_failures_total",
      help: "Scorer calls that failed, by model and the failure mode applied.",
      labelNames: ["model", "failure_mode"],
      registers,
    }),
    localPicks: new Counter({
      name: "inferd_gateway_local_picks_total",
      help: "Requests routed with the gateway's local view (approximate prefix + load) because the scorer was late (reason=deadline) or unreachable.",
      labelNames: ["model", "reason"],
      registers,
    }),
    // llm-d endpoint picker names (reference §1.12).
    eppRequests: new Counter({
      name: "llm_d_epp_request_total",
      help: "Requests, by requested and target model.",
      labelNames: ["model_name", "target_model_name"],
      registers,
    }),
    eppErrors: new Counter({
      name: "llm_d_epp_request_error_total",
      help: "Failed requests, by error code.",
      labelNames: ["model_name", "target_model_name", "error_code"],
      registers,
    }),
    eppDuration: new Histogram({
      name: "llm_d_epp_request_duration_seconds",
      help: "End-to-end request duration.",
      labelNames: ["model_name", "target_model_name"],
      buckets: latency,
      registers,
    }),
    eppTtft: new Histogram({
      name: "llm_d_epp_request_ttft_seconds",
      help: "Time to first token.",
      labelNames: ["model_name", "target_model_name", "streaming"],
      buckets: latency,
      registers,
    }),
    eppItl: new Histogram({
      name: "llm_d_epp_request_streaming_itl_seconds",
      help: "Inter-token latency of streamed responses.",
      labelNames: ["model_name", "target_model_name"],
      buckets: itl,
      registers,
    }),
    eppInputTokens: new Histogram({
      name: "llm_d_epp_request_input_tokens",
      help: "Prompt tokens (from usage).",
      labelNames: ["model_name", "target_model_name"],
      buckets: tokens,
      registers,
    }),
    eppOutputTokens: new Histogram({
      name: "llm_d_epp_request_output_tokens",
      help: "Completion tokens (from usage).",
      labelNames: ["model_name", "target_model_name"],
      buckets: tokens,
      registers,
    }),
    eppCachedTokens: new Histogram({
      name: "llm_d_epp_request_cached_tokens",
      help: "Prompt tokens served from the prefix cache (usage.prompt_tokens_details.cached_tokens).",
      labelNames: ["model_name", "target_model_name"],
      buckets: tokens,
      registers,
    }),
    eppRunning: new Gauge({
      name: "llm_d_epp_request_running",
      help: "Requests in flight.",
      labelNames: ["model_name", "target_model_name"],
      registers,
    }),
    eppProcessing: new Histogram({
      name: "llm_d_epp_request_processing_duration_seconds",
      help: "Gateway overhead before the request reached the model server.",
      buckets: overhead,
      registers,
    }),
    eppQueueDuration: new Histogram({
      name: "inference_extension_flow_control_request_queue_duration_seconds",
      help: "Time in the flow-control queue (GAIE name).",
      labelNames: ["fairness_id", "priority", "outcome", "model_name"],
      buckets: latency,
      registers,
    }),
    eppQueueSize: new Gauge({
      name: "inference_extension_flow_control_queue_size",
      help: "Requests in the flow-control queue (GAIE name).",
      labelNames: ["priority", "model_name"],
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

declare module "fastify" {
  interface FastifyInstance {
    gatewayMetrics: GatewayMetrics;
  }
}

export default fp<{ registry: Registry }>(
  (fastify, opts, done) => {
    fastify.decorate("gatewayMetrics", createGatewayMetrics(opts.registry));
    done();
  },
  { name: "gateway-metrics" },
);
