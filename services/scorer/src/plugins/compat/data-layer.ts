import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Plugin } from "../../framework/plugin.ts";

/**
 * llm-d plugin types whose job inferd's scorer does built in, accepted so that llm-d configs load:
 * the data layer (metric scraping, endpoint discovery) and the prefill header (the gateway sets
 * `x-prefiller-host-port` from PickResponse.prefill). They take no part in scheduling.
 */
export const BUILT_IN_EQUIVALENTS: Record<string, string> = {
  "metrics-data-source": "the scorer scrapes each endpoint's /metrics itself (service key scrapeIntervalMs)",
  "core-metrics-extractor": "metric names are resolved through the scorer's alias table",
  "endpoint-notification-source": "endpoints come from INFERD_ENDPOINTS or the static endpoint list",
  "prefill-header-handler":
    "the gateway sets x-prefiller-host-port from PickResponse.prefill (model pdLegs: sidecar)",
};

export class BuiltInEquivalent implements Plugin {
  readonly type: string;
  readonly name: string;
  readonly compat = true;
  readonly note: string;

  constructor(type: string, name: string) {
    this.type = type;
    this.name = name;
    this.note = BUILT_IN_EQUIVALENTS[type] ?? "";
  }
}

export function builtInEquivalentFactory(type: string) {
  return (name: string, params: Params, _handle: Handle): BuiltInEquivalent => {
    const plugin = new BuiltInEquivalent(type, name);
    params.ignore(...params.keys());
    params.warnings.push(`plugin "${name}" (${type}): built into inferd: ${plugin.note}`);
    return plugin;
  };
}
