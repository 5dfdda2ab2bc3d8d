import type { FastifyInstance } from "fastify";
import { numGpuBlocks } from "../config.ts";
import type { SimContext } from "../sim-context.ts";

/**
 * The worker-info endpoints that the routers users compare inferd with ask of a worker before and
 * while routing: sglang-router (`/get_model_info`, `/get_server_info`, `/get_load`) and vllm-router
 * (`/model_info`, `/server_info`, falling back to the `get_` names). Real vLLM does not serve these;
 * they exist so the peers run unchanged in front of a simulated fleet (test/bench routing).
 * Shapes follow SGLang's HTTP server: fields the routers read are filled, the rest left out.
 */
export function registerPeerInfo(app: FastifyInstance, ctx: SimContext): void {
  const modelInfo = () => ({
    model_path: ctx.options.model,
    tokenizer_path: ctx.options.model,
    served_model_name: ctx.options.servedModelNames[0],
    is_generation: true,
    preferred_sampling_params: null,
    weight_version: "default",
    has_image_understanding: false,
    has_audio_understanding: false,
    model_type: "qwen3",
    architectures: ["Qwen3ForCausalLM"],
  });
  const serverInfo = () => ({
    ...modelInfo(),
    model_id: ctx.options.servedModelNames[0],
    host: ctx.options.host,
    port: ctx.port,
    tp_size: 1,
    dp_size: 1,
    page_size: ctx.options.blockSize,
    max_total_num_tokens: numGpuBlocks(ctx.options) * ctx.options.blockSize,
    max_running_requests: ctx.options.maxNumSeqs,
    context_length: ctx.options.maxModelLen,
    version: "model-sim",
    internal_states: [load()],
  });
  // SGLang's legacy `/get_load` shape read by the routers' load monitor (`load`), plus the per-rank
  // fields of newer SGLang. `load` counts requests in the engine (running + waiting).
  const load = () => {
    const running = ctx.engine.numRunning;
    const waiting = ctx.engine.numWaiting;
    return {
      load: running + waiting,
      dp_rank: 0,
      num_reqs: running,
      num_waiting_reqs: waiting,
      kv_cache_usage: ctx.engine.pool.usage(),
    };
  };
  app.get("/get_model_info", async () => modelInfo());
  app.get("/model_info", async () => modelInfo());
  app.get("/get_server_info", async () => serverInfo());
  app.get("/server_info", async () => serverInfo());
  app.get("/get_load", async () => load());
}
