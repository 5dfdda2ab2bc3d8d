import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { encodeKvEventBatch, encodeSeq, formatTopic } from "@inferd/kv-blocks";
import { freePort, waitFor } from "@inferd/testkit";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { Publisher } from "zeromq";
import type { RunningKvIndex } from "../../src/service.ts";
import { metricValue } from "../helpers.ts";
import { FakeEngine } from "../support/fake-engine.ts";
import { expectIndexEquals, MODEL, startTestKvIndex, useServers } from "../support/stack.ts";

/**
 * Fuzzes kv-index's ZeroMQ SUB socket (bind mode) with fast-check-generated garbage: wrong frame
 * counts, bad topics, bad sequence frames, random and truncated payloads, msgpack of the wrong
 * shape, arrays announcing billions of elements, unknown event tags, and valid batches with
 * out-of-order and repeated sequence numbers. The process must survive, count every surely
 * malformed message in `inferd_kv_malformed_payloads_total`, stay within a memory bound, and
 * still index a real engine's events exactly afterwards.
 *
 * INFERD_FUZZ_SCALE multiplies the message count (the bench's long form: `inferd bench fuzz`).
 */
const SCALE = Number(process.env.INFERD_FUZZ_SCALE ?? "1");
const MESSAGES = Math.round(10_000 * SCALE);
const MODEL_FUZZ = `${MODEL}-fuzz`;
const TOPIC = new TextEncoder().encode(formatTopic("fuzz-pod", MODEL_FUZZ));

type Case = { frames: Uint8Array[]; surelyMalformed: boolean };

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
/** A first byte that is no msgpack array or map header: never a batch. */
const notABatchHead = fc.oneof(
  fc.integer({ min: 0x00, max: 0x7f }),
  fc.integer({ min: 0xa0, max: 0xbf }),
  fc.constantFrom(0xc0, 0xc1, 0xc2, 0xc3, 0xcc, 0xd0, 0xca, 0xcb),
);
const validPayload = fc
  .record({ ts: fc.double({ min: 0, max: 2e9, noNaN: true }), n: fc.integer({ min: 1, max: 3 }) })
  .map(({ ts, n }) =>
    encodeKvEventBatch({
      ts,
      events: Array.from({ length: n }, (_, i) => ({
        type: "BlockStored" as const,
        blockHashes: [BigInt(i + 1) * 7919n],
        parentBlockHash: null,
        tokenIds: Array.from({ length: 16 }, (_, t) => t + i),
        blockSize: 16,
        medium: "GPU",
      })),
    }),
  );
const seq = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(encodeSeq);

const cases: fc.Arbitrary<Case> = fc.oneof(
  // Wrong number of frames.
  fc
    .array(bytes(48), { minLength: 1, maxLength: 6 })
    .filter((f) => f.length !== 3)
    .map((frames) => ({ frames, surelyMalformed: true })),
  // A topic that is not kv@<pod>@<model>.
  fc
    .tuple(
      fc.string({ maxLength: 40 }).filter((t) => !/^kv@[^@]+@./.test(t)),
      seq,
      validPayload,
    )
    .map(([t, s, p]) => ({ frames: [new TextEncoder().encode(t), s, p], surelyMalformed: true })),
  // A sequence frame that is not 8 bytes.
  fc
    .tuple(
      bytes(16).filter((b) => b.length !== 8),
      validPayload,
    )
    .map(([s, p]) => ({ frames: [TOPIC, s, p], surelyMalformed: true })),
  // Random bytes that cannot start a batch.
  fc
    .tuple(seq, notABatchHead, bytes(256))
    .map(([s, h, rest]) => ({ frames: [TOPIC, s, Uint8Array.from([h, ...rest])], surelyMalformed: true })),
  // A valid batch cut short.
  fc.tuple(seq, validPayload, fc.double({ min: 0, max: 0.999, noNaN: true })).map(([s, p, cut]) => ({
    frames: [TOPIC, s, p.subarray(0, Math.floor(p.length * cut))],
    surelyMalformed: true,
  })),
  // Arrays announcing up to 2^32-1 elements with almost nothing behind them.
  fc.tuple(seq, fc.integer({ min: 1 << 16, max: 0xffffffff }), bytes(16)).map(([s, n, rest]) => {
    const head = new Uint8Array(5);
    head[0] = 0xdd;
    new DataView(head.buffer).setUint32(1, n);
    return { frames: [TOPIC, s, Uint8Array.from([...head, ...rest])], surelyMalformed: true };
  }),
  // msgpack of arbitrary shape: wrong types, unknown event tags, nested junk (may be valid).
  fc
    .tuple(
      seq,
      fc.oneof(
        fc.tuple(
          fc.double(),
          fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.anything()), { maxLength: 4 }),
        ),
        fc.anything({ maxDepth: 3 }),
      ),
    )
    .map(([s, v]) => ({ frames: [TOPIC, s, msgpackEncode(v)], surelyMalformed: false })),
  // Valid batches with any sequence number: out of order, repeated, far ahead.
  fc.tuple(seq, validPayload).map(([s, p]) => ({ frames: [TOPIC, s, p], surelyMalformed: false })),
);

const servers = useServers();
let kvi: RunningKvIndex;
let endpoint: string;
let replayPort: number;

beforeAll(async () => {
  const port = await freePort();
  endpoint = `tcp://127.0.0.1:${port}`;
  replayPort = await freePort();
  kvi = await startTestKvIndex({
    natsUrl: servers.nats.url,
    redisUrl: servers.redis.url,
    indexBackend: "redis",
    zmqMode: "bind",
    zmqBindEndpoint: endpoint,
    useInventory: false,
    purgeDepartedPods: false,
    // The engine used after the fuzzing: what ZeroMQ's slow joiner loses comes back by replay.
    replayEndpoints: { "after-fuzz": `tcp://127.0.0.1:${replayPort}` },
    // Gaps of the fuzzed pod ask a replay socket that does not answer: fail fast.
    replayTimeoutMs: 50,
  });
  servers.cleanups.push(() => kvi.stop());
});

/** Heap in use after a full collection (gc exposed at run time, as `node --expose-gc` would). */
function heapAfterGc(): number {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed;
}

const malformed = () => metricValue(kvi.registry, "inferd_kv_malformed_payloads_total");
const handled = () => metricValue(kvi.registry, "inferd_kv_ingest_batches_total");

describe("kv-index - fuzzed ZeroMQ input", () => {
  it(`survives ${MESSAGES} malformed KV-event messages, counts them, and still indexes a real engine`, async () => {
    const pub = new Publisher({ linger: 0, sendHighWaterMark: 100_000 });
    pub.connect(endpoint);
    servers.cleanups.push(async () => pub.close());
    // Wait for the subscription to reach the publisher (ZeroMQ's slow joiner).
    await waitFor(
      async () => {
        await pub.send([Uint8Array.of(1)]);
        return (await malformed()) > 0;
      },
      { timeoutMs: 20_000, message: "kv-index hears the fuzzer" },
    );
    const base = await malformed();
    const heapBefore = heapAfterGc();
    const seed = Number(process.env.INFERD_FUZZ_SEED ?? 17);
    let sure = 0;
    let sent = 0;
    const handledBefore = await handled();
    // Generated and sent in slices of 1000, paced so the SUB's high-water mark never drops a
    // message: every surely malformed message sent is counted before the next slice.
    for (let slice = 0; sent < MESSAGES; slice++) {
      const n = Math.min(1000, MESSAGES - sent);
      for (const c of fc.sample(cases, { numRuns: n, seed: seed + slice })) {
        await pub.send(c.frames);
        if (c.surelyMalformed) sure++;
      }
      sent += n;
      const want = base + sure;
      await waitFor(async () => (await malformed()) >= want, {
        timeoutMs: 30_000,
        message: `malformed messages counted (${sent} sent, ${sure} surely malformed, base ${base})`,
      });
    }
    const counted = (await malformed()) - base;
    expect(counted).toBeGreaterThanOrEqual(sure);
    expect(counted).toBeLessThanOrEqual(sent);
    expect(await handled()).toBeGreaterThan(handledBefore);
    // Bounded memory: nothing of the garbage is kept (heap after a full collection).
    const grown = heapAfterGc() - heapBefore;
    expect(grown, `heap grew ${(grown / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(32 * 2 ** 20);

    // Still working: a real engine's events are indexed exactly.
    const engine = await FakeEngine.start({
      pod: "after-fuzz",
      model: MODEL,
      connectTo: endpoint,
      replayPort,
    });
    servers.cleanups.push(() => engine.close());
    await engine.store(Array.from({ length: 64 }, (_, i) => i + 1));
    await waitFor(
      async () => {
        await engine.send([]);
        return (await kvi.index!.snapshot(MODEL, "after-fuzz")).engineToRequest.size >= 4;
      },
      { timeoutMs: 60_000, message: "real events indexed after the fuzzing" },
    );
    await expectIndexEquals(kvi.index!, "after-fuzz", engine.cached);
  }, 300_000);
});
