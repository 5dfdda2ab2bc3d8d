import type { Logger } from "@inferd/service-kit";
import type { SimOptions } from "./config.ts";
import type { Engine } from "./engine/engine.ts";
import type { Rng } from "./engine/rng.ts";
import type { LoraRegistry } from "./lora.ts";
import type { SimMetrics } from "./metrics.ts";
import type { TextGenerator } from "./text/generator.ts";
import type { SimTokenizer } from "./text/tokenizer.ts";

/** Everything the HTTP routes of one simulated server share. */
export interface SimContext {
  readonly options: SimOptions;
  readonly podName: string;
  readonly port: number;
  readonly engine: Engine;
  readonly metrics: SimMetrics;
  readonly tokenizer: SimTokenizer;
  readonly generator: TextGenerator;
  readonly loras: LoraRegistry;
  /** Seeded draws for fault injection. */
  readonly faults: Rng;
  /** NixlConnector engine id reported to decode servers. */
  readonly engineId: string;
  readonly logger: Logger;
  readonly state: { ready: boolean; crashed: boolean; tokensGenerated: number; nextRequest: number };
  /** Simulated crash: stop serving abruptly (called when --crash-after-tokens is reached). */
  crash(): void;
}
