import { createLogger } from "@inferd/service-kit";
import { type SimOptions, simOptions } from "./config.ts";
import { type SimServerHandle, type StartSimServerOptions, startSimServer } from "./server.ts";
import { loadSimTokenizer } from "./text/chat-tokenizer.ts";
import { TextGenerator } from "./text/generator.ts";

export interface FleetHandle {
  readonly servers: readonly SimServerHandle[];
  close(): Promise<void>;
}

/**
 * N simulated servers in one process on ports port..port+N-1 (KV-event ports offset the same way),
 * each with its own engine, metrics, pod name and publisher; tokenizer and text generator are shared.
 */
export async function startFleet(
  opts: StartSimServerOptions & { fleet?: number } = {},
): Promise<FleetHandle> {
  const o: SimOptions = { ...simOptions(), ...opts };
  const n = opts.fleet ?? o.fleet;
  const logger = opts.logger ?? createLogger({ service: "model-sim", level: o.logLevel });
  const tokenizer = opts.tokenizer ?? (await loadSimTokenizer(o.model));
  const generator = opts.generator ?? new TextGenerator(tokenizer);
  const servers: SimServerHandle[] = [];
  try {
    for (let i = 0; i < n; i++) {
      // Port 0 (tests) gives every server its own ephemeral port.
      servers.push(await startSimServer({ ...opts, fleetIndex: i, tokenizer, generator, logger }));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  return {
    servers,
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
