/**
 * Named policies, each an ordinary EndpointPickerConfig (so `--validate` and the builder treat them like
 * a user's file). Selected by the service key `profile` when no `pickerConfig` file is given; the routing
 * benchmark uses the same names.
 */
const HEADER = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";

export const BUILTIN_PROFILES = {
  /**
   * inferd's default, "sticky until saturated" (DESIGN §5): stay on the endpoints holding at least 80% of
   * the prompt until the best of them is predicted to reach first token 250 ms later than the best other
   * endpoint, then rank everything by predicted TTFT (which still credits cached prefixes) and in-flight
   * tokens. Requests with a TTFT objective drop endpoints that cannot meet it. Never prefix-only.
   */
  default: `${HEADER}plugins:
- type: decode-filter
- type: slo-ttft-filter
- type: prefix-cache-affinity-filter
  parameters: {affinityThreshold: 0.8, maxTTFTPenaltyMs: 250, ttftSource: latencyPredictor}
- type: predicted-ttft-scorer
- type: token-load-scorer
  parameters: {queueThresholdTokens: 262144}
- type: lora-affinity-scorer
- type: session-affinity-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: decode-filter
  - pluginRef: slo-ttft-filter
  - pluginRef: prefix-cache-affinity-filter
  - pluginRef: predicted-ttft-scorer
    weight: 3
  - pluginRef: token-load-scorer
    weight: 1
  - pluginRef: lora-affinity-scorer
    weight: 1
  - pluginRef: session-affinity-scorer
    weight: 1
  - pluginRef: max-score-picker
`,
  /**
   * Prefill/decode disaggregation with the default policy in both stages: decode first; a request whose
   * prompt the chosen decode server lacks by 1024 tokens or more prefills on a prefill server (sticky by
   * prefix there too). No ready prefill server for such a request: PD_UNAVAILABLE, never silent decode-only.
   */
  pd: `${HEADER}plugins:
- type: decode-filter
- type: prefill-filter
- type: slo-ttft-filter
- type: prefix-cache-affinity-filter
  parameters: {affinityThreshold: 0.8, maxTTFTPenaltyMs: 250, ttftSource: latencyPredictor}
- type: predicted-ttft-scorer
- type: token-load-scorer
  parameters: {queueThresholdTokens: 262144}
- type: lora-affinity-scorer
- type: session-affinity-scorer
- type: max-score-picker
- type: prefix-based-pd-decider
  parameters: {nonCachedTokens: 1024}
- type: disagg-profile-handler
  parameters: {deciders: {prefill: prefix-based-pd-decider}, requirePrefill: true}
schedulingProfiles:
- name: decode
  plugins:
  - pluginRef: decode-filter
  - pluginRef: slo-ttft-filter
  - pluginRef: prefix-cache-affinity-filter
  - {pluginRef: predicted-ttft-scorer, weight: 3}
  - {pluginRef: token-load-scorer, weight: 1}
  - {pluginRef: lora-affinity-scorer, weight: 1}
  - {pluginRef: session-affinity-scorer, weight: 1}
  - pluginRef: max-score-picker
- name: prefill
  plugins:
  - pluginRef: prefill-filter
  - pluginRef: prefix-cache-affinity-filter
  - {pluginRef: predicted-ttft-scorer, weight: 3}
  - {pluginRef: token-load-scorer, weight: 1}
  - pluginRef: max-score-picker
`,
  /** llm-d's built-in default when no config is given: queue w2 + KV utilisation w2 + prefix w3. */
  "llm-d-default": `${HEADER}plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: max-score-picker}
`,
  /** Uniformly random endpoint. */
  random: `${HEADER}plugins:
- type: decode-filter
- type: random-picker
`,
  /** Kubernetes Service-style rotation. */
  "round-robin": `${HEADER}plugins:
- type: decode-filter
- type: round-robin-picker
`,
  /** Load only: fewest in-flight tokens, then shortest scraped queue. */
  "least-load": `${HEADER}plugins:
- type: decode-filter
- type: token-load-scorer
  parameters: {queueThresholdTokens: 262144}
- type: queue-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: decode-filter
  - {pluginRef: token-load-scorer, weight: 2}
  - {pluginRef: queue-scorer, weight: 1}
  - pluginRef: max-score-picker
`,
  /** llm-d's approximate prefix routing (routing history, no KV events) with its load scorers. */
  "approx-prefix": `${HEADER}plugins:
- type: approx-prefix-cache-producer
- type: decode-filter
- type: prefix-cache-scorer
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: decode-filter
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - pluginRef: max-score-picker
`,
} as const;

export type BuiltinProfileName = keyof typeof BUILTIN_PROFILES;

export const BUILTIN_PROFILE_NAMES = Object.keys(BUILTIN_PROFILES) as BuiltinProfileName[];

export function isBuiltinProfile(name: string): name is BuiltinProfileName {
  return Object.hasOwn(BUILTIN_PROFILES, name);
}
