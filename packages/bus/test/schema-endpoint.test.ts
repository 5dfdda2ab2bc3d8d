import { createFileRegistry } from "@bufbuild/protobuf";
import { EmptySchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { make, subjects } from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import { schemaEndpoint, serveService, serviceClient } from "../src/index.ts";
import { useNats } from "./helpers.ts";

describe("bus - schema endpoint", () => {
  const nats = useNats();

  it("answers with descriptors that decode every contract message, in protobuf and JSON", async () => {
    const server = await nats.connect("server");
    await serveService(server, {
      name: "schema-test",
      version: "0.1.0",
      description: "serves the descriptors",
      endpoints: [schemaEndpoint("sch")],
    });
    const nc = await nats.connect("client");
    for (const format of ["protobuf", "json"] as const) {
      const client = serviceClient(nc, subjects("sch").schema(), EmptySchema, FileDescriptorSetSchema, {
        format,
      });
      const set = await client.call(make(EmptySchema, {}));
      const registry = createFileRegistry(set);
      expect(registry.getMessage("inferd.v1.EndpointLoad")?.fields.length).toBeGreaterThan(3);
    }
  });
});
