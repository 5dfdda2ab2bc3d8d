import type { CycleState } from "../../framework/cycle.ts";
import { ConfigError } from "../../framework/errors.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import {
  isPdDecider,
  type PdDecider,
  type ProfileHandler,
  type ProfileRunner,
  type SchedulingResult,
} from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";
import { PrefixBasedPdDecider } from "./deciders.ts";

export const DISAGG_PROFILE_HANDLER = "disagg-profile-handler";
export const PD_PROFILE_HANDLER = "pd-profile-handler";

export interface DisaggOptions {
  decodeProfile: string;
  prefillProfile: string;
  /** Decider instance name, or a decider object (pd-profile-handler's `threshold`). */
  decider: string | PdDecider;
  /** When the decider wants P/D and no prefill endpoint is ready: refuse (true) or run decode-only (false). */
  requirePrefill: boolean;
}

/**
 * Prefill/decode disaggregation, decode first (llm-d's `disagg-profile-handler`): run the decode profile,
 * ask the decider whether this request's uncached prompt on the chosen decode endpoint warrants a separate
 * prefill, and if so run the prefill profile. If P/D is wanted but the prefill profile finds no endpoint,
 * the request is refused with PD_UNAVAILABLE rather than silently served decode-only (llm-d #2427),
 * unless `requirePrefill: false`.
 */
export class DisaggProfileHandler implements ProfileHandler {
  readonly type: string;
  readonly name: string;
  private readonly opts: DisaggOptions;
  private readonly handle: Handle;
  private decider: PdDecider | undefined;

  constructor(
    opts: DisaggOptions,
    handle: Handle,
    name: string = DISAGG_PROFILE_HANDLER,
    type = DISAGG_PROFILE_HANDLER,
  ) {
    this.opts = opts;
    this.handle = handle;
    this.name = name;
    this.type = type;
    if (typeof opts.decider !== "string") this.decider = opts.decider;
  }

  get requires(): readonly ("tokens" | "prefix")[] {
    return this.decider?.requires ?? ["tokens", "prefix"];
  }

  validate(profileNames: readonly string[]): void {
    for (const p of [this.opts.decodeProfile, this.opts.prefillProfile]) {
      if (!profileNames.includes(p)) {
        throw new ConfigError(
          `plugin "${this.name}": scheduling profile "${p}" is not defined (have: ${profileNames.join(", ")})`,
        );
      }
    }
    if (typeof this.opts.decider === "string") {
      const plugin = this.handle.plugin(this.opts.decider);
      if (!plugin)
        throw new ConfigError(
          `plugin "${this.name}": decider "${this.opts.decider}" names no plugin in the plugins list`,
        );
      if (!isPdDecider(plugin))
        throw new ConfigError(`plugin "${this.name}": "${this.opts.decider}" is not a P/D decider`);
      this.decider = plugin;
    }
  }

  run(cycle: CycleState, endpoints: readonly Endpoint[], runProfile: ProfileRunner): SchedulingResult {
    const decode = runProfile(this.opts.decodeProfile, endpoints);
    const chosen = decode.picked[0];
    if (!chosen || !this.decider?.disaggregate(cycle, chosen.endpoint)) {
      return { primary: decode, prefill: undefined, profiles: [decode], refusal: undefined };
    }
    const ran = runProfile(this.opts.prefillProfile, endpoints);
    // A both-role server can pass both filters; prefilling on the decode server itself is no disaggregation.
    const prefill = { ...ran, picked: ran.picked.filter((p) => p.endpoint.pod !== chosen.endpoint.pod) };
    if (prefill.picked.length > 0)
      return { primary: decode, prefill, profiles: [decode, prefill], refusal: undefined };
    if (ran.picked.length > 0) {
      // The only prefill-capable server is the decode server: it serves the whole request.
      return { primary: decode, prefill: undefined, profiles: [decode, prefill], refusal: undefined };
    }
    const message =
      `prefill/decode disaggregation required (${cycle.uncachedTokens(chosen.endpoint.pod)} uncached prompt tokens) ` +
      `but no prefill endpoint is ready${prefill.emptiedBy ? ` (all removed by ${prefill.emptiedBy})` : ""}`;
    if (this.opts.requirePrefill) {
      return {
        primary: decode,
        prefill: undefined,
        profiles: [decode, prefill],
        refusal: { outcome: "PD_UNAVAILABLE", message },
      };
    }
    cycle.note(`${message}; serving decode-only (requirePrefill: false)`);
    return { primary: decode, prefill: undefined, profiles: [decode, prefill], refusal: undefined };
  }
}

function profiles(params: Params): { decodeProfile: string; prefillProfile: string } {
  const p = params.object("profiles");
  const read = (key: "decode" | "prefill"): string => {
    const v = p[key] ?? key;
    if (typeof v !== "string") params.error(`profiles.${key} must be a profile name`);
    return v;
  };
  return { decodeProfile: read("decode"), prefillProfile: read("prefill") };
}

export function disaggProfileHandlerFactory(
  name: string,
  params: Params,
  handle: Handle,
): DisaggProfileHandler {
  const deciders = params.object("deciders");
  const decider = deciders.prefill;
  if (typeof decider !== "string" || decider.length === 0) {
    params.error('needs "deciders: {prefill: <decider plugin name>}" (e.g. a prefix-based-pd-decider)');
  }
  const stageOrder = params.string("stageOrder", "decode-first");
  if (stageOrder !== "decode-first")
    params.error(`stageOrder "${stageOrder}" is not supported; only decode-first`);
  return new DisaggProfileHandler(
    { ...profiles(params), decider, requirePrefill: params.bool("requirePrefill", true) },
    handle,
    name,
  );
}

/** llm-d's deprecated `pd-profile-handler{threshold}`: a disagg handler with a built-in prefix-based decider. */
export function pdProfileHandlerFactory(name: string, params: Params, handle: Handle): DisaggProfileHandler {
  const threshold = params.int("threshold", 0, { min: 0 });
  params.ignore("hashBlockSize", "primaryPort");
  const decodeProfile = params.string("decodeProfile", "decode");
  const prefillProfile = params.string("prefillProfile", "prefill");
  const decider = new PrefixBasedPdDecider(
    { nonCachedTokens: threshold, promptTokens: 0 },
    `${name}/decider`,
  );
  return new DisaggProfileHandler(
    { decodeProfile, prefillProfile, decider, requirePrefill: params.bool("requirePrefill", true) },
    handle,
    name,
    PD_PROFILE_HANDLER,
  );
}
