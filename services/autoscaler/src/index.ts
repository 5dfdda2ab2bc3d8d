export { AUTOSCALER_CONFIG, type AutoscalerConfig, loadAutoscalerConfig } from "./config.ts";
export { CapacityModel } from "./policy/capacity.ts";
export {
  type DecisionInputs,
  PoolController,
  type PoolSnapshot,
  type ScaleAction,
  type TickResult,
} from "./policy/controller.ts";
export { RateForecast } from "./policy/forecast.ts";
export {
  formatPolicies,
  POOL_DEFAULTS,
  type PoolPolicy,
  parsePools,
  type Role,
} from "./policy/pool-policy.ts";
export { type FinishedSample, quantile, RequestWindow } from "./policy/window.ts";
export { type RunningAutoscaler, runAutoscaler } from "./run.ts";
