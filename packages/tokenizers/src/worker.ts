/**
 * Worker thread that owns local tokenizers and their prefix caches, so tokenising a long prompt never
 * blocks its service's event loop (the scorer's picks, NATS and scrapes; kv-index's lookups and
 * ingest). Messages: {id, op: "resolve" | "encode", ...}.
 */
import { parentPort } from "node:worker_threads";
import { TokenizerLoader, type TokenizerSource } from "@inferd/kv-blocks";
import { ModelResolver, type TokenizeJob } from "./resolver.ts";

type Request =
  | { id: number; op: "resolve"; model: string; sources: TokenizerSource[] }
  | {
      id: number;
      op: "encode";
      model: string;
      sources: TokenizerSource[];
      job: TokenizeJob;
      /** Also send the cache entries a tokenizer on the caller's thread needs to be as warm. */
      warmth?: boolean;
    };

// This thread only tokenises: each tokenizer is warmed up as it loads, before it answers anything.
const resolver = new ModelResolver(new TokenizerLoader({ warmUp: true }));
const port = parentPort!;
port.on("message", (req: Request) => {
  void (async () => {
    try {
      if (req.op === "resolve") {
        port.postMessage({ id: req.id, resolution: await resolver.resolution(req.model, req.sources) });
        return;
      }
      const t0 = performance.now();
      if (req.warmth === true) {
        const { ids, warmth } = await resolver.encodeWithWarmth(req.model, req.sources, req.job);
        const ms = performance.now() - t0;
        // The warmth's ids are this worker's cache entries: copied, never transferred.
        port.postMessage({ id: req.id, ids, ms, warmth }, [ids.buffer as ArrayBuffer]);
        return;
      }
      const ids = await resolver.encode(req.model, req.sources, req.job);
      port.postMessage({ id: req.id, ids, ms: performance.now() - t0 }, [ids.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ id: req.id, error: (err as Error).message });
    }
  })();
});
