import { loadScorerConfig, type RunningScorer, runScorer, type ScorerConfig } from "@inferd/scorer";
import type { ReadinessCheck } from "@inferd/service-kit";
import { createLogger } from "@inferd/service-kit";
import type { Registry } from "prom-client";
import type { GatewayConfig } from "../config.ts";
import type { PickFn } from "../options.ts";

/** The gateway keys the embedded scorer inherits unless its own config sets them. */
const INHERITED = [
  "natsUrl",
  "subjectPrefix",
  "natsUser",
  "natsPassword",
  "natsPasswordFile",
  "natsToken",
  "natsTokenFile",
  "natsNkeySeedFile",
  "natsCredsFile",
  "natsTlsCaFile",
  "natsTlsCertFile",
  "natsTlsKeyFile",
] as const satisfies ReadonlyArray<keyof GatewayConfig & keyof ScorerConfig>;

/**
 * The embedded scorer's config by the scorer's own loader (so its keys and messages are the
 * scorer's): its defaults < the gateway's NATS link < `scorerConfig` YAML < `INFERD_SCORER_*`.
 * Throws the scorer's ConfigError, one line per bad key.
 */
export function embeddedScorerConfig(
  gateway: Pick<GatewayConfig, (typeof INHERITED)[number] | "scorerConfig">,
  env: NodeJS.ProcessEnv = process.env,
): ScorerConfig {
  const inherited = Object.fromEntries(INHERITED.map((k) => [k, gateway[k]])) as Partial<ScorerConfig>;
  return loadScorerConfig(
    gateway.scorerConfig !== "" ? ["--config", gateway.scorerConfig] : [],
    env,
    inherited,
  );
}

export interface EmbeddedScorer {
  readonly pick: PickFn;
  readonly readiness: ReadinessCheck;
  readonly scorer: RunningScorer;
  stop(): Promise<void>;
}

/**
 * Runs a scorer replica in this process (index replica, inventory, scraper, lifecycle consumer and
 * tokenizer workers: everything `runScorer` starts) with its metrics in the gateway's registry and
 * no pick service on NATS. A pick is then a function call; the PickClient's deadline and fallback
 * apply to it unchanged (it ignores the transport timeout: there is no transport).
 */
export async function startEmbeddedScorer(config: ScorerConfig, registry: Registry): Promise<EmbeddedScorer> {
  const scorer = await runScorer(config, {
    // Its own logger: the scorer's logLevel applies and its lines say service "scorer".
    logger: createLogger({ service: "scorer", level: config.logLevel }),
    embedded: { registry },
  });
  return {
    scorer,
    pick: (request) => scorer.pick(request),
    readiness: { name: "scorer-nats", check: () => !scorer.nc.isClosed() },
    stop: () => scorer.stop(),
  };
}
