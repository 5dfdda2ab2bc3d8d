import {
  CONTENT_TYPE_HEADER,
  type DescMessage,
  decode,
  encode,
  formatFromContentType,
  JSON_CONTENT_TYPE,
  MESSAGE_TYPE_HEADER,
  type MessageShape,
  PROTOBUF_CONTENT_TYPE,
  type WireFormat,
} from "@inferd/protocol";
import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import { headers as makeHeaders } from "@nats-io/nats-core";

/** Headers that name the payload's type and encoding. */
export function messageHeaders(
  schema: DescMessage,
  format: WireFormat = "protobuf",
  base?: MsgHdrs,
): MsgHdrs {
  const h = base ?? makeHeaders();
  h.set(MESSAGE_TYPE_HEADER, schema.typeName);
  h.set(CONTENT_TYPE_HEADER, format === "json" ? JSON_CONTENT_TYPE : PROTOBUF_CONTENT_TYPE);
  return h;
}

export function formatOf(msg: Pick<Msg, "headers">): WireFormat {
  return formatFromContentType(msg.headers?.get(CONTENT_TYPE_HEADER));
}

/** Decodes a NATS message as `schema`, protobuf or protobuf-JSON by its Content-Type header. */
export function decodeMessage<D extends DescMessage>(
  msg: Pick<Msg, "data" | "headers">,
  schema: D,
): MessageShape<D> {
  return decode(schema, msg.data, formatOf(msg));
}

export function encodeMessage<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
  format: WireFormat = "protobuf",
): Uint8Array {
  return encode(schema, message, format);
}
