import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

/** Where the event-plane contract lives, relative to the repository root. */
export const REPO_ROOT = join(import.meta.dirname, "../..");
export const ASYNCAPI_PATH = join(REPO_ROOT, "docs/events/asyncapi.yaml");
export const RELEASED_PATH = join(REPO_ROOT, "docs/events/released/inferd-v1.channels.json");

interface SchemaDoc {
  "x-protobuf-message"?: string;
  "x-protobuf-file"?: string;
}
interface MessageDoc {
  name: string;
  payload: SchemaDoc;
}
interface ChannelDoc {
  address: string;
  messages?: Record<string, { $ref: string }>;
  "x-jetstream-stream"?: string;
  "x-jetstream-kv-bucket"?: string;
}
export interface AsyncApiDoc {
  channels: Record<string, ChannelDoc>;
  components: { messages: Record<string, MessageDoc> };
}

export function readAsyncApi(path = ASYNCAPI_PATH): { text: string; doc: AsyncApiDoc } {
  const text = readFileSync(path, "utf8");
  return { text, doc: parseYaml(text) as AsyncApiDoc };
}

/** One channel as the compatibility snapshot records it: its address and its messages' names. */
export interface ChannelSummary {
  id: string;
  address: string;
  messages: string[];
}

function messageOfRef(doc: AsyncApiDoc, ref: string): MessageDoc {
  const name = ref.replace("#/components/messages/", "");
  const message = doc.components.messages[name];
  if (!message) throw new Error(`unresolved message reference ${ref}`);
  return message;
}

export function channelSummaries(doc: AsyncApiDoc): ChannelSummary[] {
  return Object.entries(doc.channels)
    .map(([id, channel]) => ({
      id,
      address: channel.address,
      messages: Object.values(channel.messages ?? {})
        .map((m) => messageOfRef(doc, m.$ref).payload["x-protobuf-message"] ?? "")
        .sort(),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * What `buf breaking` is for the proto files, for the document: within v1 a channel never
 * disappears, never changes its address, and never stops carrying a message it carried.
 * Returns one line per break (empty when compatible).
 */
export function breakingChanges(released: ChannelSummary[], current: ChannelSummary[]): string[] {
  const byId = new Map(current.map((c) => [c.id, c]));
  const problems: string[] = [];
  for (const old of released) {
    const now = byId.get(old.id);
    if (!now) {
      problems.push(`channel "${old.id}" (${old.address}) was removed`);
      continue;
    }
    if (now.address !== old.address)
      problems.push(`channel "${old.id}" moved from ${old.address} to ${now.address}`);
    for (const message of old.messages) {
      if (!now.messages.includes(message)) problems.push(`channel "${old.id}" no longer carries ${message}`);
    }
  }
  return problems;
}

export function readReleased(path = RELEASED_PATH): ChannelSummary[] {
  return JSON.parse(readFileSync(path, "utf8")) as ChannelSummary[];
}
