import { EngineBlockHasher, vllmExtraKeys } from "@inferd/kv-blocks";
import { createLogger, type Logger } from "@inferd/service-kit";
import { numGpuBlocks, type SimOptions, simOptions } from "./config.ts";
import { type Clock, RealClock } from "./engine/clock.ts";
import { Engine } from "./engine/engine.ts";
import { getProfile } from "./engine/latency.ts";
import { hashString, Rng } from "./engine/rng.ts";
import type { BlockHasher } from "./engine/types.ts";
import { buildApp } from "./http/app.ts";
import { expandTopic, offsetEndpointPort } from "./kv-events/config.ts";
import { KvEventPublisher } from "./kv-events/publisher.ts";
import { LoraRegistry } from "./lora.ts";
import { SimMetrics } from "./metrics.ts";
import type { SimContext } from "./sim-context.ts";
import { loadSimTokenizer } from "./text/chat-tokenizer.ts";
import { TextGenerator } from "./text/generator.ts";
import type { SimTokenizer } from "./text/tokenizer.ts";

export interface StartSimServerOptions extends Partial<SimOptions> {
  /** Position in a fleet: port, KV-event ports and `{i}` in the pod name are offset by it. */
  readonly fleetIndex?: number;
  readonly tokenizer?: SimTokenizer;
  readonly generator?: TextGenerator;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Called after a simulated crash (--crash-after-tokens). */
  readonly onCrash?: (server: SimServerHandle) => void;
}

export interface SimServerHandle {
  readonly podName: string;
  readonly model: string;
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  /** Where subscribers connect (null when events are off). */
  readonly kvEventsEndpoint: string | null;
  readonly kvReplayEndpoint: string | null;
  readonly kvEventsTopic: string | null;
  readonly engine: Engine;
  readonly context: SimContext;
  /** Resolves when /health turns ready (after --startup-delay-ms). */
  readonly ready: Promise<void>;
  readonly crashed: () => boolean;
  close(): Promise<void>;
}

/** Where a client reaches a PUB endpoint the server bound with a wildcard host. */
function connectAddress(endpoint: string): string {
  return endpoint.replace("tcp://*:", "tcp://127.0.0.1:").replace("tcp://0.0.0.0:", "tcp://127.0.0.1:");
}

/** vLLM's block hasher for the simulated version: its algorithm, NONE_HASH and extra-key forms. */
export function makeBlockHasher(
  o: Pick<SimOptions, "prefixCachingHashAlgo" | "pythonHashSeed"> & { readonly vllmVersion?: string },
): BlockHasher {
  const h = new EngineBlockHasher({
    algo: o.prefixCachingHashAlgo,
    seed: o.pythonHashSeed,
    vllmVersion: o.vllmVersion,
  });
  return (parent, tokens, k) => {
    const inputs = {
      loraName: k.lora?.name ?? null,
      loraPath: k.lora?.path ?? null,
      loraId: k.lora?.id ?? null,
      cacheSalt: k.cacheSalt,
    };
    const r = h.hashNextBlock(parent, tokens, h.extraKeys(k.start, k.end, inputs));
    return { digest: r.digest, ext: r.hash, extraKeys: vllmExtraKeys(k.start, k.end, inputs, h.rules) };
  };
}

/** Starts one simulated vLLM server (HTTP + engine + metrics + optional KV-event publisher). */
export async function startSimServer(opts: StartSimServerOptions = {}): Promise<SimServerHandle> {
  const o: SimOptions = { ...simOptions(), ...opts };
  const index = opts.fleetIndex ?? 0;
  const requestedPort = o.port === 0 ? 0 : o.port + index;
  const baseLogger = opts.logger ?? createLogger({ service: "model-sim", level: o.logLevel });
  const tokenizer = opts.tokenizer ?? (await loadSimTokenizer(o.model));
  const generator = opts.generator ?? new TextGenerator(tokenizer);
  const profile = getProfile(o.profile);
  const clock = opts.clock ?? new RealClock();
  const engine = new Engine(
    {
      blockSize: o.blockSize,
      numGpuBlocks: numGpuBlocks(o),
      maxNumSeqs: o.maxNumSeqs,
      maxNumBatchedTokens: o.maxNumBatchedTokens,
      maxModelLen: o.maxModelLen,
      maxLoras: o.enableLora ? o.maxLoras : 0,
      longPrefillTokenThreshold: o.longPrefillTokenThreshold,
      profile,
      seed: (o.seed * 1_000_003 + index) >>> 0,
    },
    clock,
    makeBlockHasher(o),
  );
  const metrics = new SimMetrics(engine, {
    modelName: o.servedModelNames[0] ?? o.model,
    engineIndex: 0,
    blockSize: o.blockSize,
    numGpuBlocks: numGpuBlocks(o),
    maxLoras: o.maxLoras,
    loraEnabled: o.enableLora,
    maxModelLen: o.maxModelLen,
    numGpuBlocksOverride: o.numGpuBlocksOverride,
    prefixCachingHashAlgo: o.prefixCachingHashAlgo,
  });
  engine.addObserver(metrics);
  const loras = new LoraRegistry(o.enableLora);
  for (const m of o.loraModules) loras.load(m.name, m.path);

  let publisher: KvEventPublisher | null = null;
  let closed = false;
  let crashedFlag = false;
  let readyTimer: NodeJS.Timeout | null = null;
  const ctx: SimContext & { podName: string; port: number; logger: Logger; engineId: string } = {
    options: o,
    podName: "",
    port: requestedPort,
    engine,
    metrics,
    tokenizer,
    generator,
    loras,
    faults: new Rng(hashString(`faults:${o.seed}:${index}`)),
    engineId: "",
    logger: baseLogger,
    state: { ready: false, crashed: false, tokensGenerated: 0, nextRequest: 0 },
    crash: () => {
      if (crashedFlag || closed) return;
      crashedFlag = true;
      ctx.state.crashed = true;
      ctx.logger.warn({ tokens: ctx.state.tokensGenerated }, "simulated crash: dropping every connection");
      engine.stop();
      app.server.closeAllConnections();
      void app.close();
      void publisher?.close();
      opts.onCrash?.(handle);
    },
  };
  const app = buildApp(ctx);
  await app.listen({ host: o.host, port: requestedPort });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : requestedPort;
  ctx.port = port;
  ctx.podName = o.podName.replaceAll("{port}", String(port)).replaceAll("{i}", String(index));
  ctx.engineId = `${ctx.podName}-${hashString(`${ctx.podName}:${o.seed}`).toString(16)}`;
  ctx.logger = baseLogger.child({ pod: ctx.podName });

  const ev = o.kvEventsConfig;
  if (ev.enableKvCacheEvents && ev.publisher === "zmq") {
    const offset = o.dataParallelRank + index;
    try {
      publisher = await KvEventPublisher.start({
        config: ev,
        endpoint: offsetEndpointPort(ev.endpoint, offset),
        replayEndpoint: ev.replayEndpoint ? offsetEndpointPort(ev.replayEndpoint, offset) : null,
        topic: expandTopic(ev.topic, ctx.podName, o.servedModelNames[0] ?? o.model),
        vllmVersion: o.vllmVersion,
        encoding: o.kvEventsEncoding ?? undefined,
        dataParallelRank: o.dataParallelRank,
        intHashes: o.intBlockHashes,
        onError: (err) => ctx.logger.warn({ err }, "KV event publish failed"),
      });
    } catch (err) {
      await app.close();
      throw err;
    }
    const pub = publisher;
    engine.addObserver({ onKvEvents: (events) => pub.publish(events, Date.now() / 1000) });
  }

  const ready = new Promise<void>((resolve) => {
    const markReady = () => {
      ctx.state.ready = true;
      ctx.logger.info({ port, profile: o.profile, blocks: numGpuBlocks(o) }, "model-sim ready");
      resolve();
    };
    if (o.startupDelayMs > 0) {
      readyTimer = setTimeout(markReady, o.startupDelayMs);
      readyTimer.unref();
    } else markReady();
  });

  const host = o.host === "0.0.0.0" || o.host === "::" ? "127.0.0.1" : o.host;
  const handle: SimServerHandle = {
    podName: ctx.podName,
    model: o.servedModelNames[0] ?? o.model,
    port,
    url: `http://${host}:${port}`,
    kvEventsEndpoint: publisher ? connectAddress(publisher.endpoint) : null,
    kvReplayEndpoint: publisher?.replayEndpoint ? connectAddress(publisher.replayEndpoint) : null,
    kvEventsTopic: publisher ? publisher.topic : null,
    engine,
    context: ctx,
    ready,
    crashed: () => crashedFlag,
    close: async () => {
      if (closed) return;
      closed = true;
      if (readyTimer) clearTimeout(readyTimer);
      engine.stop();
      const done = app.close();
      app.server.closeAllConnections();
      await done;
      await publisher?.close();
    },
  };
  return handle;
}
