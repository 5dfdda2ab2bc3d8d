/**
 * The KV-block index contract shared by every backend (in-memory, Redis).
 *
 * Keys are 64-bit unsigned integers carried as `bigint`:
 *  - request keys: inferd's own chained block keys (from @inferd/kv-blocks), the ones a lookup
 *    computes from a prompt;
 *  - engine keys: vLLM's block hashes from KV events, only meaningful per pod.
 *
 * An "engine" is what the index tracks copies for: a pod, or one data-parallel rank of a pod
 * (see `engineId`). Copies are counted per (engine, request key, tier): vLLM may cache the
 * same block twice and then remove it twice, so a block stays indexed until its last copy goes.
 *
 * All operations are safe to call concurrently. Writes for one engine must be issued in event
 * order by the caller (the indexer keeps per-pod ordering); `apply` is atomic per call.
 */
export type Tier = "gpu" | "cpu";
export const TIERS: readonly Tier[] = ["gpu", "cpu"];

/** One write; `apply` runs a list of them atomically and in order. */
export type IndexOp =
  /**
   * Adds one copy of each block. `requestKeys[i]` is the key of block i; `engineKeys[i]`, when
   * given, is its engine hash, recorded so a later `evict` by engine key finds it.
   * `engineKeys: null` adds speculative entries (no engine mapping; they can only go away
   * through `clear`). Every backend must accept null without failing. Lengths must match.
   */
  | { kind: "add"; tier: Tier; engineKeys: readonly bigint[] | null; requestKeys: readonly bigint[] }
  /**
   * Removes one copy per engine key from `tier`. Unknown engine keys, and keys not held in that
   * tier, are ignored (vLLM may report blocks we never saw stored, e.g. after a gap that could
   * not be replayed). When the engine holds the block in no tier any more its mapping goes too.
   */
  | { kind: "evict"; tier: Tier; engineKeys: readonly bigint[] }
  /** Forgets everything about the engine (AllBlocksCleared, engine restart). */
  | { kind: "clear" };

/** Consecutive prefix blocks (from block 0) an engine holds for a lookup. */
export interface PrefixMatch {
  /** Engine id (see engineId); `parseEngineId` gives the pod back. */
  engine: string;
  /** Blocks present on GPU. */
  gpuBlocks: number;
  /** Blocks present on GPU or CPU (each block in either tier). */
  anyBlocks: number;
}

/** What an engine holds, for tests and tools: engine -> request key, and copies per tier. */
export interface EngineSnapshot {
  engineToRequest: Map<bigint, bigint>;
  copies: Record<Tier, Map<bigint, number>>;
}

export interface ApplyOptions {
  /**
   * Stream sequence of the message these writes come from. When given, the index remembers it
   * per engine atomically with the writes, and `apply` does nothing (returns false) if the
   * stored checkpoint is already >= this one: a redelivered message is never applied twice.
   */
  checkpoint?: bigint;
  /** Opaque text stored with the checkpoint (the indexer keeps the engine's seq and ts there). */
  meta?: string;
  /**
   * The checkpoint the caller last stored for this engine (with `checkpoint`). When the stored
   * one is lower or missing, the store has lost writes it acknowledged (a Redis primary failed
   * over to a replica that had not received them yet): `apply` does nothing and returns false,
   * and the caller replays from the stored checkpoint instead of writing past the hole.
   */
  after?: bigint;
}

/** What `apply` remembered for an engine. */
export interface Checkpoint {
  seq: bigint;
  meta: string;
}

/**
 * A hard bound on memory, whatever the events say (lost BlockRemoved events, a misbehaving
 * engine): an engine holding `maxEntriesPerEngine` blocks gets no NEW blocks (copies of held
 * ones still count); each drop is reported to `onDropped`. 0 or absent = no limit.
 */
export interface IndexLimits {
  maxEntriesPerEngine?: number;
  onDropped?: (model: string, engine: string, count: number) => void;
}

export interface BlockIndex {
  /** "memory" or "redis". */
  readonly backend: string;

  /**
   * For each engine holding block 0, how many consecutive blocks from the start it holds.
   * Engines with no match are omitted. `engines`, when given, restricts the answer to them.
   */
  lookup(
    model: string,
    requestKeys: readonly bigint[],
    engines?: ReadonlySet<string>,
  ): Promise<PrefixMatch[]>;

  add(
    model: string,
    engine: string,
    tier: Tier,
    engineKeys: readonly bigint[] | null,
    requestKeys: readonly bigint[],
  ): Promise<void>;
  evict(model: string, engine: string, tier: Tier, engineKeys: readonly bigint[]): Promise<void>;
  /** Request keys recorded for engine keys of this engine (undefined where unknown). */
  requestKeysFor(
    model: string,
    engine: string,
    engineKeys: readonly bigint[],
  ): Promise<(bigint | undefined)[]>;
  clear(model: string, engine: string): Promise<void>;
  /** Runs `ops` atomically and in order; false when skipped by the checkpoint guard. */
  apply(model: string, engine: string, ops: readonly IndexOp[], options?: ApplyOptions): Promise<boolean>;
  /** Clears the engine and forgets it entirely (it left the inventory): no trace remains. */
  forget(model: string, engine: string): Promise<void>;

  /** Last checkpoint applied for the engine, if any. */
  checkpoint(model: string, engine: string): Promise<Checkpoint | undefined>;
  /** Models with at least one known engine. */
  models(): Promise<string[]>;
  /** Engines known for a model (they may hold nothing after a clear). */
  engines(model: string): Promise<string[]>;
  snapshot(model: string, engine: string): Promise<EngineSnapshot>;
  /** Number of (engine, request key) entries held, for metrics. */
  size(): Promise<number>;

  /**
   * Marker naming the generation of the index content. Empty after a reset or when the store
   * lost its data (e.g. Redis restarted without persistence): the indexer then rebuilds.
   */
  generation(): Promise<string | undefined>;
  setGeneration(id: string): Promise<void>;
  /** Deletes everything, generation included. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const RANK_SEPARATOR = "#dp";

/**
 * The engine id of a (pod, data-parallel rank): the pod name for rank 0 (the common case),
 * `<pod>#dp<rank>` otherwise. Each rank has its own KV cache, so ranks are tracked apart and a
 * restarted rank clears only its own blocks (llm-d ignored the rank: llm-d-kv-cache #357).
 */
export function engineId(pod: string, rank = 0): string {
  return rank === 0 ? pod : `${pod}${RANK_SEPARATOR}${rank}`;
}

export function parseEngineId(engine: string): { pod: string; rank: number } {
  const at = engine.lastIndexOf(RANK_SEPARATOR);
  if (at > 0) {
    const tail = engine.slice(at + RANK_SEPARATOR.length);
    if (/^[1-9][0-9]*$/.test(tail)) return { pod: engine.slice(0, at), rank: Number(tail) };
  }
  return { pod: engine, rank: 0 };
}

/**
 * The single-operation methods of BlockIndex, written once over `apply` (which every backend
 * implements, atomically per call): backends extend this and implement the rest.
 */
export abstract class ApplyBasedIndex {
  abstract apply(
    model: string,
    engine: string,
    ops: readonly IndexOp[],
    options?: ApplyOptions,
  ): Promise<boolean>;

  async add(
    model: string,
    engine: string,
    tier: Tier,
    engineKeys: readonly bigint[] | null,
    requestKeys: readonly bigint[],
  ): Promise<void> {
    await this.apply(model, engine, [{ kind: "add", tier, engineKeys, requestKeys }]);
  }

  async evict(model: string, engine: string, tier: Tier, engineKeys: readonly bigint[]): Promise<void> {
    await this.apply(model, engine, [{ kind: "evict", tier, engineKeys }]);
  }

  async clear(model: string, engine: string): Promise<void> {
    await this.apply(model, engine, [{ kind: "clear" }]);
  }
}
