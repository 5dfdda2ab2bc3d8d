import { Parser } from "@asyncapi/parser";
import { BUCKETS, contractRegistry, STREAMS, type Subjects, subjects } from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import {
  ASYNCAPI_PATH,
  breakingChanges,
  channelSummaries,
  readAsyncApi,
  readReleased,
} from "./event-contract.ts";

const { text, doc } = readAsyncApi();
const channels = Object.values(doc.channels);

/** A channel address with its `{param}`s numbered in order: `a.{model}.{pod}` -> `a.P0.P1`. */
function numbered(address: string): string {
  let i = 0;
  return address.replace(/\{[a-z]+\}/g, () => `P${i++}`);
}

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

type SubjectFn = (...names: string[]) => string;
const builders = subjects();
const fns = Object.entries(builders).filter(
  (entry): entry is [keyof Subjects, SubjectFn] => typeof entry[1] === "function",
);
/** Builders of concrete subjects (not wildcards), called with placeholder names P0, P1. */
const concrete = fns.filter(([name]) => !/All$|Of[A-Z]\w*$/.test(name) && name !== "endpointKey");
const wildcards = fns.filter(([name]) => /All$|Of[A-Z]\w*$/.test(name));

describe("event-plane contract (docs/events/asyncapi.yaml)", () => {
  it("is a valid AsyncAPI 3 document", async () => {
    const { document, diagnostics } = await new Parser().parse(text, { source: ASYNCAPI_PATH });
    const errors = diagnostics
      .filter((d) => d.severity === 0)
      .map((d) => `${d.path.join(".")}: ${d.message}`);
    expect(errors).toEqual([]);
    expect(document?.version()).toBe("3.0.0");
  });

  it("has a channel for every subject @inferd/protocol builds, and no other", () => {
    const fromCode = concrete
      .map(([, fn]) => fn(...Array.from({ length: fn.length }, (_, i) => `P${i}`)))
      .concat(`$KV.${BUCKETS.endpoints}.${builders.endpointKey("P0", "P1")}`)
      .sort();
    const fromDoc = channels.map((c) => numbered(c.address)).sort();
    expect(fromDoc).toEqual(fromCode);
  });

  it("covers every wildcard the code subscribes to with exactly the channels it matches", () => {
    for (const [name, fn] of wildcards) {
      const pattern = fn("P0");
      const matched = channels.filter((c) => matches(pattern, c.address.replace(/\{[a-z]+\}/g, "P0")));
      expect(matched.length, `${name} = ${pattern}`).toBe(1);
    }
  });

  it("names every JetStream stream and KV bucket of the code", () => {
    const streams = channels.flatMap((c) => c["x-jetstream-stream"] ?? []).sort();
    const buckets = channels.flatMap((c) => c["x-jetstream-kv-bucket"] ?? []).sort();
    expect(streams).toEqual(Object.values(STREAMS).sort());
    expect(buckets).toEqual(Object.values(BUCKETS).sort());
  });

  it("refers every payload to a message of proto/inferd/v1 in the file that defines it", () => {
    const registry = contractRegistry();
    for (const [id, message] of Object.entries(doc.components.messages)) {
      const typeName = message.payload["x-protobuf-message"];
      expect(typeName, id).toBeDefined();
      const desc = registry.getMessage(typeName!);
      expect(desc, `${id}: ${typeName} is not a contract message`).toBeDefined();
      expect(`${desc!.file.name}.proto`, id).toBe(
        message.payload["x-protobuf-file"]?.replace(/^proto\//, ""),
      );
    }
  });

  it("keeps every channel and message of the released v1 contract", () => {
    expect(breakingChanges(readReleased(), channelSummaries(doc))).toEqual([]);
  });

  it("reports a removed channel, a moved address and a dropped message as breaking", () => {
    const released = [{ id: "a", address: "x.v1.a", messages: ["inferd.v1.A", "inferd.v1.B"] }];
    expect(breakingChanges(released, [])).toEqual(['channel "a" (x.v1.a) was removed']);
    expect(breakingChanges(released, [{ id: "a", address: "x.v1.b", messages: ["inferd.v1.A"] }])).toEqual([
      'channel "a" moved from x.v1.a to x.v1.b',
      'channel "a" no longer carries inferd.v1.B',
    ]);
  });
});
