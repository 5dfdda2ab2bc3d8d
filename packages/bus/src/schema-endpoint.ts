import { EmptySchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { contractDescriptorSet, subjects } from "@inferd/protocol";
import { defineEndpoint } from "./service.ts";

/**
 * The `schema` endpoint a service adds to its micro-service: an empty request is answered with the
 * contract's protobuf descriptors, so a tool can decode every payload without the repository
 * (docs/events/asyncapi.yaml, channel `schema`).
 */
export function schemaEndpoint(prefix?: string) {
  const set = contractDescriptorSet();
  return defineEndpoint({
    name: "schema",
    subject: subjects(prefix).schema(),
    request: EmptySchema,
    response: FileDescriptorSetSchema,
    handler: async () => set,
  });
}
