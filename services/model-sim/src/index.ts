export {
  defaultKvTokens,
  envKey,
  type HashAlgo,
  type KvTransferConfig,
  numGpuBlocks,
  parseSimArgs,
  SIM_HELP,
  SimArgsError,
  type SimOptions,
  simOptions,
} from "./config.ts";
export { type Clock, RealClock, VirtualClock } from "./engine/clock.ts";
export {
  type AddRequestParams,
  Engine,
  type EngineConfig,
  EngineInputError,
  type EngineObserver,
} from "./engine/engine.ts";
export { DEFAULT_PROFILE, getProfile, type LatencyProfile, PROFILES, stepSeconds } from "./engine/latency.ts";
export type { BlockHash, BlockHasher, KvCacheEvent } from "./engine/types.ts";
export { type FleetHandle, startFleet } from "./fleet.ts";
export { type KvEventsConfig, parseKvEventsConfig } from "./kv-events/config.ts";
export {
  makeBlockHasher,
  type SimServerHandle,
  type StartSimServerOptions,
  startSimServer,
} from "./server.ts";
