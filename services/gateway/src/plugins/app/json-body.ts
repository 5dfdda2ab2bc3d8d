import fp from "fastify-plugin";

/**
 * The JSON body parser: fastify's own (same errors, same `__proto__` / `constructor` refusal),
 * fed the same UTF-8 text, but the body's bytes are kept on the request as `rawBody`. When the
 * gateway sends the body upstream unchanged (or with one member appended), it forwards these bytes
 * instead of re-serialising the parsed object (`upstreamPayload` in domain/openai-body.ts).
 */
export default fp(
  (fastify, _opts, done) => {
    const parse = fastify.getDefaultJsonParser("error", "error");
    fastify.decorateRequest("rawBody", undefined);
    fastify.removeContentTypeParser("application/json");
    fastify.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, next) => {
      request.rawBody = body as Buffer;
      parse(request, (body as Buffer).toString("utf8"), next);
    });
    done();
  },
  { name: "json-body" },
);

declare module "fastify" {
  interface FastifyRequest {
    /** The request body's bytes as received (JSON bodies only). */
    rawBody: Buffer | undefined;
  }
}
