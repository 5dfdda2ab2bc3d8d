import { createLogger } from "@inferd/service-kit";
import { type SimOptions, simOptions } from "./config.ts";
import { type SimServerHandle, type StartSimServerOptions, startSimServer } from "./server.ts";
import { loadSimTokenizer } from "./text/chat-tokenizer.ts";
import { TextGenerator } from "./text/generator.ts";

function tcpPort(endpoint: string): number | null {
  const m = /^tcp:\/\/.*:(\d+)$/.exec(endpoint);
  return m ? Number(m[1]) : null;
}

/**
 * Every server i takes port+i, events+rank+i and replay+rank+i: the three ranges must not overlap
 * (e.g. events 5557 and replay 5558 collide as soon as N > 1). Fails early with the ports named.
 */
export function checkPortRanges(o: SimOptions, n: number): void {
  const ranges: { name: string; from: number }[] = [];
  if (o.port !== 0) ranges.push({ name: "--port", from: o.port });
  const ev = o.kvEventsConfig;
  if (ev.enableKvCacheEvents) {
    const e = tcpPort(ev.endpoint);
    if (e !== null) ranges.push({ name: "kv-events endpoint", from: e + o.dataParallelRank });
    const r = ev.replayEndpoint ? tcpPort(ev.replayEndpoint) : null;
    if (r !== null) ranges.push({ name: "kv-events replay_endpoint", from: r + o.dataParallelRank });
  }
  for (let a = 0; a < ranges.length; a++)
    for (let b = a + 1; b < ranges.length; b++) {
      const x = ranges[a]!;
      const y = ranges[b]!;
      if (x.from < y.from + n && y.from < x.from + n) {
        throw new Error(
          `fleet of ${n}: ${x.name} ports ${x.from}..${x.from + n - 1} overlap ${y.name} ports ${y.from}..${y.from + n - 1}`,
        );
      }
    }
}

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
  checkPortRanges(o, n);
  const logger = opts.logger ?? createLogger({ service: "model-sim", level: o.logLevel });
  const tokenizer = opts.tokenizer ?? (await loadSimTokenizer(o.model, o.tokenizerPath));
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
