import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFileRegistry, type DescFile, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import * as protocol from "../src/index.ts";
import { CONTRACT_FILES, contractDescriptorSetBinary } from "../src/index.ts";

function isFile(value: unknown): value is DescFile {
  return typeof value === "object" && value !== null && (value as { kind?: string }).kind === "file";
}

describe("protocol - descriptors", () => {
  it("lists every generated file of the contract", () => {
    const exported = Object.values(protocol)
      .filter(isFile)
      .map((f) => f.name);
    expect(CONTRACT_FILES.map((f) => f.name).sort()).toEqual(exported.sort());
  });

  it("serves a self-contained FileDescriptorSet that resolves every message", () => {
    const set = fromBinary(FileDescriptorSetSchema, contractDescriptorSetBinary());
    const registry = createFileRegistry(set);
    for (const name of ["inferd.v1.RequestEvent", "inferd.v1.KvEventBatch", "inferd.v1.ScaleDecision"]) {
      expect(registry.getMessage(name)?.typeName).toBe(name);
    }
    expect(set.file.map((f) => f.name)).toContain("google/protobuf/timestamp.proto");
  });

  it("holds every message of the released snapshot (nothing a tool relied on disappears)", () => {
    const released = fromBinary(
      FileDescriptorSetSchema,
      readFileSync(join(import.meta.dirname, "../../../proto/released/inferd-v1.binpb")),
    );
    const current = createFileRegistry(fromBinary(FileDescriptorSetSchema, contractDescriptorSetBinary()));
    for (const file of released.file) {
      for (const message of file.messageType) {
        const name = `${file.package}.${message.name}`;
        expect(current.getMessage(name), name).toBeDefined();
      }
    }
  });
});
