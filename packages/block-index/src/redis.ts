import { escapeToken } from "@inferd/protocol";
import type { Cluster, Redis } from "ioredis";
import type {
  ApplyOptions,
  BlockIndex,
  Checkpoint,
  EngineSnapshot,
  IndexLimits,
  IndexOp,
  PrefixMatch,
} from "./block-index.ts";
import { ApplyBasedIndex } from "./block-index.ts";
import { APPLY_LUA, FORGET_LUA, REQUEST_KEYS_LUA, SIZE_LUA } from "./redis-scripts.ts";

/** A standalone client or a cluster client; every command used works on both. */
export type RedisLink = Redis | Cluster;

const MODELS_KEY = "kvi:models";
const GENERATION_KEY = "kvi:generation";

/** 16 lower-case hex digits: fixed width, readable in redis-cli, shorter than decimal. */
export function keyHex(key: bigint): string {
  return key.toString(16).padStart(16, "0");
}

/** Key prefix of a model; the `{...}` hash tag keeps all of a model's keys in one slot. */
export function modelPrefix(model: string): string {
  return `kvi:{${escapeToken(model)}}:`;
}

interface ScriptCommands {
  kviApply(key: string, ...args: string[]): Promise<[number, number]>;
  kviForget(key: string, ...args: string[]): Promise<number>;
  kviRequestKeys(key: string, ...args: string[]): Promise<(string | null)[]>;
  kviSize(key: string, ...args: string[]): Promise<number>;
}

interface EngineNames {
  version: string;
  byId: Map<number, string>;
}

/**
 * The index in Redis (or Valkey), shared by every kv-index and scorer replica. Layout and
 * scripts: see redis-scripts.ts and the README. A lookup is one round trip (GET version + MGET
 * of one small bitmap per prompt block) plus, rarely, a refresh of the engine-name table.
 */
export class RedisBlockIndex extends ApplyBasedIndex implements BlockIndex {
  readonly backend = "redis";
  readonly #redis: RedisLink;
  readonly #scripts: ScriptCommands;
  readonly #names = new Map<string, EngineNames>();
  readonly #knownModels = new Set<string>();

  readonly #limits: IndexLimits;

  constructor(redis: RedisLink, limits: IndexLimits = {}) {
    super();
    this.#redis = redis;
    this.#limits = limits;
    redis.defineCommand("kviApply", { numberOfKeys: 1, lua: APPLY_LUA });
    redis.defineCommand("kviForget", { numberOfKeys: 1, lua: FORGET_LUA });
    redis.defineCommand("kviRequestKeys", { numberOfKeys: 1, lua: REQUEST_KEYS_LUA });
    redis.defineCommand("kviSize", { numberOfKeys: 1, lua: SIZE_LUA });
    this.#scripts = redis as unknown as ScriptCommands;
    // A (re)connection may reach a Redis that lost its data: forget what we cached about it.
    redis.on("ready", () => this.invalidateCaches());
  }

  async lookup(model: string, requestKeys: readonly bigint[], engines?: ReadonlySet<string>) {
    if (requestKeys.length === 0) return [];
    const p = modelPrefix(model);
    const keys = requestKeys.map((k) => `${p}b:${keyHex(k)}`);
    const [[verErr, version], [mgetErr, bitmaps]] = (await this.#redis
      .pipeline()
      .get(`${p}pver`)
      .mgetBuffer(keys)
      .exec()) as [[Error | null, string | null], [Error | null, (Buffer | null)[]]];
    if (verErr) throw verErr;
    if (mgetErr) throw mgetErr;
    const first = bitmaps[0];
    if (!first) return [];
    const names = await this.#engineNames(p, version ?? "0");
    return prefixFromBitmaps(bitmaps, names.byId, engines);
  }

  async requestKeysFor(model: string, engine: string, engineKeys: readonly bigint[]) {
    if (engineKeys.length === 0) return [];
    const p = modelPrefix(model);
    const found = await this.#scripts.kviRequestKeys(`${p}pid`, p, engine, ...engineKeys.map(keyHex));
    return engineKeys.map((_, i) => {
      const hex = found[i];
      // The field holds the request key (16 hex digits) followed by the copy counts.
      return hex ? BigInt(`0x${hex.slice(0, 16)}`) : undefined;
    });
  }

  async apply(model: string, engine: string, ops: readonly IndexOp[], options: ApplyOptions = {}) {
    const p = modelPrefix(model);
    const args: string[] = [
      p,
      engine,
      options.checkpoint === undefined ? "" : options.checkpoint.toString(),
      options.meta ?? "",
      String(this.#limits.maxEntriesPerEngine ?? 0),
      options.after === undefined ? "" : options.after.toString(),
    ];
    for (const op of ops) {
      if (op.kind === "add") {
        if (op.engineKeys && op.engineKeys.length !== op.requestKeys.length) {
          throw new Error(
            `add: ${op.engineKeys.length} engine keys for ${op.requestKeys.length} request keys (must match)`,
          );
        }
        args.push(
          "A",
          op.tier === "gpu" ? "g" : "c",
          String(op.requestKeys.length),
          op.engineKeys ? "1" : "0",
        );
        args.push(op.requestKeys.map(keyHex).join(""));
        if (op.engineKeys) args.push(op.engineKeys.map(keyHex).join(""));
      } else if (op.kind === "evict") {
        args.push("E", op.tier === "gpu" ? "g" : "c", String(op.engineKeys.length));
        args.push(op.engineKeys.map(keyHex).join(""));
      } else {
        args.push("C");
      }
    }
    await this.#rememberModel(model);
    const [applied, dropped] = await this.#scripts.kviApply(`${p}pid`, ...args);
    if (dropped > 0) this.#limits.onDropped?.(model, engine, dropped);
    return applied === 1;
  }

  async forget(model: string, engine: string) {
    const p = modelPrefix(model);
    await this.#scripts.kviForget(`${p}pid`, p, engine);
  }

  async checkpoint(model: string, engine: string): Promise<Checkpoint | undefined> {
    const p = modelPrefix(model);
    const [[, seq], [, meta]] = (await this.#redis
      .pipeline()
      .hget(`${p}ck`, engine)
      .hget(`${p}cm`, engine)
      .exec()) as [[Error | null, string | null], [Error | null, string | null]];
    return seq === null ? undefined : { seq: BigInt(seq), meta: meta ?? "" };
  }

  async models() {
    return this.#redis.smembers(MODELS_KEY);
  }

  async engines(model: string) {
    return this.#redis.hkeys(`${modelPrefix(model)}pid`);
  }

  async snapshot(model: string, engine: string): Promise<EngineSnapshot> {
    const p = modelPrefix(model);
    const snap: EngineSnapshot = { engineToRequest: new Map(), copies: { gpu: new Map(), cpu: new Map() } };
    const id = await this.#redis.hget(`${p}pid`, engine);
    if (id === null) return snap;
    const fields = await this.#redis.hgetall(`${p}h:${id}`);
    for (const [field, value] of Object.entries(fields)) {
      const rk = BigInt(`0x${value.slice(0, 16)}`);
      const v = Number(value.slice(16));
      if (!field.startsWith("s")) snap.engineToRequest.set(BigInt(`0x${field}`), rk);
      const add = (m: Map<bigint, number>, n: number) => n > 0 && m.set(rk, (m.get(rk) ?? 0) + n);
      add(snap.copies.gpu, v % 65536);
      add(snap.copies.cpu, Math.floor(v / 65536));
    }
    return snap;
  }

  async size() {
    let total = 0;
    for (const model of await this.models()) {
      const p = modelPrefix(model);
      total += Number(await this.#scripts.kviSize(`${p}pid`, p));
    }
    return total;
  }

  async generation() {
    return (await this.#redis.get(GENERATION_KEY)) ?? undefined;
  }

  async setGeneration(id: string) {
    await this.#redis.set(GENERATION_KEY, id);
  }

  async reset() {
    // Every key of ours, not only the models listed in kvi:models: after Redis lost its data,
    // writes may have landed before the model list was written again.
    await this.#deleteMatching("kvi:*");
    this.#names.clear();
    this.#knownModels.clear();
  }

  async close() {
    this.#redis.disconnect();
  }

  /** Forgets cached state that may be stale after the store lost its data. */
  invalidateCaches() {
    this.#names.clear();
    this.#knownModels.clear();
  }

  async #rememberModel(model: string) {
    if (this.#knownModels.has(model)) return;
    await this.#redis.sadd(MODELS_KEY, model);
    this.#knownModels.add(model);
  }

  async #engineNames(p: string, version: string): Promise<EngineNames> {
    const cached = this.#names.get(p);
    if (cached && cached.version === version) return cached;
    // Read the version again with the table, so a table newer than the lookup's version is
    // cached under its own version and the next lookup refreshes if needed.
    const [[, fresh], [, table]] = (await this.#redis
      .pipeline()
      .get(`${p}pver`)
      .hgetall(`${p}pname`)
      .exec()) as [[Error | null, string | null], [Error | null, Record<string, string>]];
    const byId = new Map<number, string>();
    for (const [id, engine] of Object.entries(table ?? {})) byId.set(Number(id), engine);
    const names = { version: fresh ?? "0", byId };
    this.#names.set(p, names);
    return names;
  }

  async #deleteMatching(pattern: string) {
    const redis = this.#redis;
    const isCluster = "nodes" in redis && typeof redis.nodes === "function";
    // A cluster client knows its masters only once it has loaded the slot map.
    if (isCluster && redis.status !== "ready") await new Promise((resolve) => redis.once("ready", resolve));
    const nodes = isCluster ? (redis as Cluster).nodes("master") : [redis as Redis];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        cursor = next;
        // One UNLINK per key keeps Redis Cluster happy even if keys ever spanned slots.
        if (keys.length > 0) {
          const pipe = node.pipeline();
          for (const key of keys) pipe.unlink(key);
          await pipe.exec();
        }
      } while (cursor !== "0");
    }
  }
}

/**
 * Per engine, the consecutive prefix matched from block bitmaps (bit 2*id = GPU, 2*id+1 = CPU;
 * bits are numbered from the most significant bit of byte 0, as Redis SETBIT does).
 */
export function prefixFromBitmaps(
  bitmaps: readonly (Uint8Array | null)[],
  names: ReadonlyMap<number, string>,
  engines?: ReadonlySet<string>,
): PrefixMatch[] {
  const first = bitmaps[0];
  if (!first) return [];
  // Engine id -> byte and masks: GPU bit 2*id, CPU bit 2*id+1, MSB first within a byte.
  const result: PrefixMatch[] = [];
  const byteOf: number[] = [];
  const gpuMask: number[] = [];
  const anyRun: number[] = [];
  const gpuRun: number[] = [];
  for (let byte = 0; byte < first.length; byte++) {
    const v = first[byte]!;
    if (v === 0) continue;
    for (let slot = 0; slot < 4; slot++) {
      const g = 0x80 >> (slot * 2);
      const onGpu = (v & g) !== 0;
      if (!onGpu && (v & (g >> 1)) === 0) continue;
      const engine = names.get(byte * 4 + slot);
      if (engine === undefined || (engines && !engines.has(engine))) continue;
      const k = result.length;
      result.push({ engine, gpuBlocks: onGpu ? 1 : 0, anyBlocks: 1 });
      byteOf.push(byte);
      gpuMask.push(g);
      anyRun.push(k);
      if (onGpu) gpuRun.push(k);
    }
  }
  // Compact the runs in place: no allocation per block in the hot loop.
  let nAny = anyRun.length;
  let nGpu = gpuRun.length;
  for (let i = 1; i < bitmaps.length && nAny > 0; i++) {
    const buf = bitmaps[i];
    if (!buf) break;
    let w = 0;
    for (let r = 0; r < nAny; r++) {
      const k = anyRun[r]!;
      const m = gpuMask[k]!;
      if (((buf[byteOf[k]!] ?? 0) & (m | (m >> 1))) === 0) continue;
      result[k]!.anyBlocks = i + 1;
      anyRun[w++] = k;
    }
    nAny = w;
    w = 0;
    for (let r = 0; r < nGpu; r++) {
      const k = gpuRun[r]!;
      if (((buf[byteOf[k]!] ?? 0) & gpuMask[k]!) === 0) continue;
      result[k]!.gpuBlocks = i + 1;
      gpuRun[w++] = k;
    }
    nGpu = w;
  }
  return result;
}
