import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { PdDecider } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const PREFIX_BASED_PD_DECIDER = "prefix-based-pd-decider";
export const ALWAYS_DISAGG_PD_DECIDER = "always-disagg-pd-decider";

/**
 * Disaggregate only when the prompt part the chosen decode endpoint has not cached is at least
 * `nonCachedTokens` (0 = never) and the prompt has at least `promptTokens` tokens.
 */
export class PrefixBasedPdDecider implements PdDecider {
  readonly type = PREFIX_BASED_PD_DECIDER;
  readonly name: string;
  readonly requires = ["tokens", "prefix"] as const;
  readonly nonCachedTokens: number;
  readonly promptTokens: number;

  constructor(
    opts: { nonCachedTokens: number; promptTokens: number },
    name: string = PREFIX_BASED_PD_DECIDER,
  ) {
    this.nonCachedTokens = opts.nonCachedTokens;
    this.promptTokens = opts.promptTokens;
    this.name = name;
  }

  disaggregate(cycle: CycleState, decode: Endpoint): boolean {
    if (this.nonCachedTokens <= 0) return false;
    if (cycle.promptTokens < this.promptTokens) return false;
    return cycle.uncachedTokens(decode.pod) >= this.nonCachedTokens;
  }
}

export class AlwaysDisaggPdDecider implements PdDecider {
  readonly type = ALWAYS_DISAGG_PD_DECIDER;
  readonly name: string;

  constructor(name: string = ALWAYS_DISAGG_PD_DECIDER) {
    this.name = name;
  }

  disaggregate(): boolean {
    return true;
  }
}

export function prefixBasedPdDeciderFactory(
  name: string,
  params: Params,
  _handle: Handle,
): PrefixBasedPdDecider {
  return new PrefixBasedPdDecider(
    {
      nonCachedTokens: params.int("nonCachedTokens", 0, { min: 0 }),
      promptTokens: params.int("promptTokens", 0, { min: 0 }),
    },
    name,
  );
}

export function alwaysDisaggPdDeciderFactory(
  name: string,
  _params: Params,
  _handle: Handle,
): AlwaysDisaggPdDecider {
  return new AlwaysDisaggPdDecider(name);
}
