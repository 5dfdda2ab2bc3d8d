import {
  create,
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonValue,
  type MessageInitShape,
  type MessageShape,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";

/** NATS header naming the protobuf message type of a payload (e.g. `inferd.v1.PickRequest`). */
export const MESSAGE_TYPE_HEADER = "Inferd-Message-Type";
export const CONTENT_TYPE_HEADER = "Content-Type";
export const JSON_CONTENT_TYPE = "application/json";
export const PROTOBUF_CONTENT_TYPE = "application/protobuf";

export type WireFormat = "protobuf" | "json";

export function formatFromContentType(contentType: string | undefined | null): WireFormat {
  return contentType?.toLowerCase().startsWith(JSON_CONTENT_TYPE) ? "json" : "protobuf";
}

export function encode<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
  format: WireFormat = "protobuf",
): Uint8Array {
  if (format === "json") return new TextEncoder().encode(JSON.stringify(toJson(schema, message)));
  return toBinary(schema, message);
}

/** Decodes a payload; a malformed one throws an Error whose message names the type. */
export function decode<D extends DescMessage>(
  schema: D,
  data: Uint8Array,
  format: WireFormat = "protobuf",
): MessageShape<D> {
  try {
    if (format === "json") {
      const text = new TextDecoder().decode(data);
      return fromJson(schema, (text.length === 0 ? {} : JSON.parse(text)) as JsonValue, {
        ignoreUnknownFields: true,
      });
    }
    return fromBinary(schema, data);
  } catch (err) {
    throw new Error(`malformed ${schema.typeName} (${format}): ${(err as Error).message}`);
  }
}

export function make<D extends DescMessage>(schema: D, init?: MessageInitShape<D>): MessageShape<D> {
  return create(schema, init);
}

export function toJsonValue<D extends DescMessage>(schema: D, message: MessageShape<D>): JsonValue {
  return toJson(schema, message);
}
