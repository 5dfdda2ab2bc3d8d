import type { FastifyInstance } from "fastify";
import { chatCompletionBody } from "../../schemas/openai.ts";

export default async function chatCompletions(fastify: FastifyInstance): Promise<void> {
  fastify.post("/v1/chat/completions", { schema: { body: chatCompletionBody } }, (request, reply) =>
    fastify.inference.handle("chat", "/v1/chat/completions", request, reply),
  );
}
