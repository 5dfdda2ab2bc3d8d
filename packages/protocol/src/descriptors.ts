import { create, createFileRegistry, type DescFile, type FileRegistry, toBinary } from "@bufbuild/protobuf";
import {
  type FileDescriptorSet,
  FileDescriptorSetSchema,
  file_google_protobuf_descriptor,
  file_google_protobuf_empty,
} from "@bufbuild/protobuf/wkt";
import { file_inferd_v1_autoscale } from "./gen/inferd/v1/autoscale_pb.js";
import { file_inferd_v1_endpoint } from "./gen/inferd/v1/endpoint_pb.js";
import { file_inferd_v1_kv_events } from "./gen/inferd/v1/kv_events_pb.js";
import { file_inferd_v1_kv_lookup } from "./gen/inferd/v1/kv_lookup_pb.js";
import { file_inferd_v1_load } from "./gen/inferd/v1/load_pb.js";
import { file_inferd_v1_requests } from "./gen/inferd/v1/requests_pb.js";
import { file_inferd_v1_sched } from "./gen/inferd/v1/sched_pb.js";

/** Every generated file of proto/inferd/v1 (a test checks none is missing). */
export const CONTRACT_FILES: readonly DescFile[] = [
  file_inferd_v1_autoscale,
  file_inferd_v1_endpoint,
  file_inferd_v1_kv_events,
  file_inferd_v1_kv_lookup,
  file_inferd_v1_load,
  file_inferd_v1_requests,
  file_inferd_v1_sched,
];

/** The well-known files the `schema` service itself speaks (empty request, descriptor-set reply). */
const SCHEMA_SERVICE_FILES: readonly DescFile[] = [
  file_google_protobuf_empty,
  file_google_protobuf_descriptor,
];

/**
 * The contract's files and their imports as one `google.protobuf.FileDescriptorSet`, dependencies
 * first, so a tool (protoc --descriptor_set_in, Python's descriptor_pool, buf) can decode every
 * payload without the repository.
 */
export function contractDescriptorSet(
  files: readonly DescFile[] = [...CONTRACT_FILES, ...SCHEMA_SERVICE_FILES],
): FileDescriptorSet {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dep of file.dependencies) visit(dep);
    ordered.push(file);
  };
  for (const file of files) visit(file);
  return create(FileDescriptorSetSchema, { file: ordered.map((f) => f.proto) });
}

export function contractDescriptorSetBinary(): Uint8Array {
  return toBinary(FileDescriptorSetSchema, contractDescriptorSet());
}

/** Every message, enum and file of the contract (and its imports), looked up by full name. */
export function contractRegistry(): FileRegistry {
  return createFileRegistry(contractDescriptorSet());
}
