import type { FastifyInstance } from "fastify";
import { completionBody } from "../../schemas/openai.ts";

export default async function completions(fastify: FastifyInstance): Promise<void> {
  fastify.post("/v1/completions", { schema: { body: completionBody } }, (request, reply) =>
    fastify.inference.handle("completions", "/v1/completions", request, reply),
  );
}
