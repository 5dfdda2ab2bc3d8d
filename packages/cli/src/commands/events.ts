import { parseArgs } from "node:util";
import { connectNats, DeliverPolicy, jetstream, type NatsConnection } from "@inferd/bus";
import {
  CONTENT_TYPE_HEADER,
  contractRegistry,
  type DescMessage,
  decode,
  formatFromContentType,
  MESSAGE_TYPE_HEADER,
  subjects,
  toJson,
} from "@inferd/protocol";
import { formatHuman, formatJson, type TailedEvent } from "../events/format.ts";
import { EVENT_SOURCES, type EventSource, eventSource } from "../events/sources.ts";

export const EVENTS_HELP = `inferd events tail [--stream S] [--model M] [--json] [--from-start] [--nats URL] [--prefix P]

  events tail           follow one event source of the NATS contract, decoded (docs/events/asyncapi.yaml);
                        one line per message, --json for one JSON object per line
                        --stream: ${EVENT_SOURCES.map((s) => s.name).join(" | ")} (default requests)
                        --from-start: replay what a stream retains first (streams only)
`;

export async function runEvents(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "tail") {
    process.stderr.write(EVENTS_HELP);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      stream: { type: "string", default: "requests" },
      model: { type: "string" },
      json: { type: "boolean", default: false },
      "from-start": { type: "boolean", default: false },
      nats: { type: "string", default: process.env.INFERD_NATS_URL ?? "nats://127.0.0.1:4222" },
      prefix: { type: "string", default: "inferd" },
      /** Stop after this many messages (for scripts and tests). */
      count: { type: "string" },
    },
  });
  const source = eventSource(values.stream);
  const count = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
  if (!(count > 0)) throw new Error(`--count: must be a positive integer, got "${values.count}"`);
  const nc = await connectNats({
    servers: values.nats,
    name: "inferd-events-tail",
    waitOnFirstConnect: false,
  });
  const print = values.json ? formatJson : (e: TailedEvent) => formatHuman(e);
  const decoder = payloadDecoder();
  let seen = 0;
  const emit = (event: TailedEvent): boolean => {
    process.stdout.write(`${print(event)}\n`);
    return ++seen >= count;
  };
  try {
    const s = subjects(values.prefix);
    const filter = source.filter(s, values.model);
    if (source.kind === "core") await tailCore(nc, filter, source, decoder, emit);
    else await tailStream(nc, source.stream!(s), filter, source, values["from-start"], decoder, emit);
  } finally {
    await nc.close();
  }
  return 0;
}

/** What the decoder needs of a NATS message's headers. */
type Headers = { get(name: string): string } | undefined;

/** Decodes by the message's own type header (any contract message), else the source's type. */
function payloadDecoder() {
  const registry = contractRegistry();
  return (source: EventSource, data: Uint8Array, headers: Headers) => {
    const named = headers?.get(MESSAGE_TYPE_HEADER);
    const schema: DescMessage = (named && registry.getMessage(named)) || source.schema;
    const message = decode(schema, data, formatFromContentType(headers?.get(CONTENT_TYPE_HEADER)));
    return { type: schema.typeName, message: toJson(schema, message) as Record<string, unknown> };
  };
}

async function tailCore(
  nc: NatsConnection,
  filter: string,
  source: EventSource,
  decoder: ReturnType<typeof payloadDecoder>,
  emit: (e: TailedEvent) => boolean,
): Promise<void> {
  const sub = nc.subscribe(filter);
  process.once("SIGINT", () => sub.unsubscribe());
  for await (const m of sub) {
    if (emit({ subject: m.subject, ...decoder(source, m.data, m.headers) })) break;
  }
}

async function tailStream(
  nc: NatsConnection,
  stream: string,
  filter: string,
  source: EventSource,
  fromStart: boolean,
  decoder: ReturnType<typeof payloadDecoder>,
  emit: (e: TailedEvent) => boolean,
): Promise<void> {
  const isBucket = stream.startsWith("KV_");
  // An ordered consumer: nothing to clean up on the server, no acks. One filter subject as a
  // string, since a list needs nats-server 2.10 and Debian ships 2.9.
  const consumer = await jetstream(nc).consumers.get(stream, {
    filter_subjects: filter,
    deliver_policy: fromStart
      ? DeliverPolicy.All
      : isBucket
        ? DeliverPolicy.LastPerSubject
        : DeliverPolicy.New,
  });
  const messages = await consumer.consume();
  process.once("SIGINT", () => void messages.close());
  for await (const m of messages) {
    const operation = m.headers?.get("KV-Operation");
    const event: TailedEvent =
      operation === "DEL" || operation === "PURGE"
        ? { subject: m.subject, type: source.schema.typeName, message: {}, deleted: true, streamSeq: m.seq }
        : { subject: m.subject, streamSeq: m.seq, ...decoder(source, m.data, m.headers) };
    if (emit(event)) break;
  }
  await messages.close();
}
