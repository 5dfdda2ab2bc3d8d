import type { CycleState } from "../../framework/cycle.ts";
import { ConfigError } from "../../framework/errors.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { ProfileHandler, ProfileRunner, SchedulingResult } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const SINGLE_PROFILE_HANDLER = "single-profile-handler";

/** Runs the one scheduling profile; its picks are the answer. */
export class SingleProfileHandler implements ProfileHandler {
  readonly type = SINGLE_PROFILE_HANDLER;
  readonly name: string;
  private profile = "";

  constructor(name: string = SINGLE_PROFILE_HANDLER) {
    this.name = name;
  }

  validate(profileNames: readonly string[]): void {
    if (profileNames.length !== 1 || !profileNames[0]) {
      throw new ConfigError(
        `plugin "${this.name}": single-profile-handler needs exactly one scheduling profile, found ${profileNames.length}`,
      );
    }
    this.profile = profileNames[0];
  }

  run(_cycle: CycleState, endpoints: readonly Endpoint[], runProfile: ProfileRunner): SchedulingResult {
    const primary = runProfile(this.profile, endpoints);
    return { primary, prefill: undefined, profiles: [primary], refusal: undefined };
  }
}

export function singleProfileHandlerFactory(
  name: string,
  _params: Params,
  _handle: Handle,
): SingleProfileHandler {
  return new SingleProfileHandler(name);
}
