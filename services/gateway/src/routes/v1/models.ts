import type { FastifyInstance } from "fastify";
import type { ApiKeys } from "../../domain/api-keys.ts";
import { errorBody } from "../../domain/errors.ts";
import type { Inventory } from "../../domain/inventory.ts";
import { bearerToken } from "../../domain/request-meta.ts";
import type { ModelObject } from "../../schemas/openai.ts";

/**
 * GET /v1/models: every base model and LoRA adapter of the inventory (and of the configuration,
 * so a pool at zero is still listed). A model that needs an API key is listed only to callers
 * presenting one of its keys.
 */
export default async function models(
  fastify: FastifyInstance,
  opts: { inventory: Inventory; apiKeys: ApiKeys },
): Promise<void> {
  const created = Math.floor(Date.now() / 1000);
  const visible = (key: string): ModelObject[] => {
    const data: ModelObject[] = [];
    for (const card of opts.inventory.models()) {
      if (!opts.apiKeys.allows(card.id, card.parent ?? card.id, key)) continue;
      data.push({
        id: card.id,
        object: "model",
        created,
        owned_by: "inferd",
        root: card.parent ?? card.id,
        parent: card.parent ?? null,
      });
    }
    return data;
  };
  fastify.get("/v1/models", async (request) => ({
    object: "list",
    data: visible(bearerToken(request.headers)),
  }));
  // Model names hold "/", so the id is the rest of the path.
  fastify.get<{ Params: { "*": string } }>("/v1/models/*", async (request, reply) => {
    const id = decodeURIComponent(request.params["*"]);
    const model = visible(bearerToken(request.headers)).find((m) => m.id === id);
    if (model === undefined) {
      return reply
        .code(404)
        .send(
          errorBody(`The model "${id}" does not exist.`, "invalid_request_error", "model_not_found", "model"),
        );
    }
    return model;
  });
}
