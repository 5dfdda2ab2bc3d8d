import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Filter } from "../../framework/plugin.ts";
import type { Endpoint, Role } from "../../framework/types.ts";

export const DECODE_FILTER = "decode-filter";
export const PREFILL_FILTER = "prefill-filter";

/** Keeps endpoints whose role includes the wanted stage; role "both" serves either. */
export class RoleFilter implements Filter {
  readonly type: string;
  readonly name: string;
  private readonly stage: Exclude<Role, "both">;

  constructor(stage: Exclude<Role, "both">, name?: string) {
    this.stage = stage;
    this.type = stage === "decode" ? DECODE_FILTER : PREFILL_FILTER;
    this.name = name ?? this.type;
  }

  filter(_cycle: CycleState, endpoints: readonly Endpoint[]): readonly Endpoint[] {
    return endpoints.filter((e) => e.info.role === "both" || e.info.role === this.stage);
  }
}

export function decodeFilterFactory(name: string, _params: Params, _handle: Handle): RoleFilter {
  return new RoleFilter("decode", name);
}

export function prefillFilterFactory(name: string, _params: Params, _handle: Handle): RoleFilter {
  return new RoleFilter("prefill", name);
}
