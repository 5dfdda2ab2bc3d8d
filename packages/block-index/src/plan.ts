import { extraKeysFromProto, requestKeyHasher, type VllmRules } from "@inferd/kv-blocks";
import { type BlockStored, type KvEventBatch, StorageTier } from "@inferd/protocol";
import type { IndexOp, Tier } from "./block-index.ts";

/**
 * The vLLM rules of a model pool (its servers' version): how a block's extra keys are derived
 * when an event does not carry them. kv-index decides them (`vllm_version(s)`, GET /version).
 */
export type RulesFor = (model: string) => VllmRules;

/** Events the planner indexed in a degraded way or could not index. */
export type Anomaly =
  /** BlockStored whose parent engine hash is unknown: indexed on an orphan chain (never matched by lookups). */
  | "unknown_parent"
  /** Token-less (CPU offload placeholder) event whose engine hashes were never seen with tokens. */
  | "unresolved_placeholder"
  /** Event block size differs from the index block size: keys cannot be compared, skipped. */
  | "block_size_mismatch"
  /** token_ids do not cover exactly blockSize per hash (e.g. a sliding-window group): skipped. */
  | "token_count_mismatch"
  /** A merged message overlaps batches already applied but does not say where its batches end: applied whole. */
  | "unsplittable_overlap"
  /** A KV-cache group that is not full attention (hybrid models): skipped. */
  | "other_cache_group"
  /** A batch event with no content. */
  | "unknown_event";

export interface PlanContext {
  /** Index block size: lookups cut prompts into blocks of this many tokens. */
  blockSize: number;
  /**
   * Request keys of engine keys the index already knows for this engine (in order; undefined
   * where unknown). Called at most once per event that needs it.
   */
  resolve(engineKeys: readonly bigint[]): Promise<(bigint | undefined)[]>;
  /** Learned mappings (engine key -> request key), so later events in any batch resolve without a round trip. */
  learn?(engineKey: bigint, requestKey: bigint): void;
  /** The model pool's vLLM rules (extra keys derived for events without `extra_keys`); default current vLLM. */
  rulesFor?: RulesFor;
  onAnomaly?(kind: Anomaly, detail: string): void;
}

export interface Plan {
  ops: IndexOp[];
  storedBlocks: number;
  removedBlocks: number;
}

/**
 * A chain root for blocks whose parent is unknown (lost events, P/D transfers, vLLM #58119):
 * derived from the parent's engine hash, so its children still chain consistently and can be
 * evicted, but no lookup (which starts at the model root) ever matches them.
 */
export const ORPHAN_SALT = 0x6f72_7068_616e_2121n; // "orphan!!"
export function orphanParent(parentEngineKey: bigint): bigint {
  return BigInt.asUintN(64, parentEngineKey ^ ORPHAN_SALT);
}

export function tierOf(tier: StorageTier): Tier {
  // Anything off the GPU (CPU offload, disk) is the slower tier.
  return tier === StorageTier.GPU || tier === StorageTier.UNSPECIFIED ? "gpu" : "cpu";
}

/** The index tier of an event: a block owned by an offloading connector (vLLM 0.29+) is never GPU. */
function tierOfEvent(ev: { tier: StorageTier; ownership: string }): Tier {
  return ev.ownership !== "" ? "cpu" : tierOf(ev.tier);
}

/**
 * Turns one normalised batch into index writes for its engine, in event order:
 * BlockStored -> add (request keys chained from the parent's request key, engine mapping kept),
 * BlockRemoved -> evict, AllBlocksCleared / PodReset -> clear. Pure except for `ctx.resolve`.
 */
export async function planBatch(batch: KvEventBatch, ctx: PlanContext): Promise<Plan> {
  const plan: Plan = { ops: [], storedBlocks: 0, removedBlocks: 0 };
  // Mappings added by earlier events of this batch (not yet in the index).
  const local = new Map<bigint, bigint>();
  const resolve = async (keys: readonly bigint[]) => {
    const missing = keys.filter((k) => !local.has(k));
    const found = missing.length > 0 ? await ctx.resolve(missing) : [];
    const fromIndex = new Map<bigint, bigint | undefined>(missing.map((k, i) => [k, found[i]]));
    return keys.map((k) => local.get(k) ?? fromIndex.get(k));
  };
  for (const { event } of batch.events) {
    switch (event.case) {
      case "blockStored": {
        const op = await planStored(batch.model, event.value, ctx, resolve);
        if (!op) break;
        plan.ops.push(op);
        plan.storedBlocks += op.requestKeys.length;
        op.engineKeys?.forEach((ek, i) => {
          local.set(ek, op.requestKeys[i]!);
          ctx.learn?.(ek, op.requestKeys[i]!);
        });
        break;
      }
      case "blockRemoved":
        plan.ops.push({ kind: "evict", tier: tierOfEvent(event.value), engineKeys: event.value.blockHashes });
        plan.removedBlocks += event.value.blockHashes.length;
        break;
      case "allBlocksCleared":
      case "podReset":
        plan.ops.push({ kind: "clear" });
        local.clear();
        break;
      default:
        ctx.onAnomaly?.("unknown_event", `${batch.pod}: empty event`);
    }
  }
  return plan;
}

async function planStored(
  model: string,
  ev: BlockStored,
  ctx: PlanContext,
  resolve: (keys: readonly bigint[]) => Promise<(bigint | undefined)[]>,
): Promise<Extract<IndexOp, { kind: "add" }> | null> {
  const tier = tierOfEvent(ev);
  if (ev.kvCacheSpecKind !== "" ? ev.kvCacheSpecKind !== "full_attention" : (ev.groupIdx ?? 0) !== 0) {
    ctx.onAnomaly?.(
      "other_cache_group",
      `group ${ev.groupIdx ?? 0} (${ev.kvCacheSpecKind || "kind unknown"})`,
    );
    return null;
  }
  if (ev.blockHashes.length === 0) return null;

  if (ev.tokenIds.length === 0) {
    // Placeholder (e.g. CPU offload): same blocks as an earlier event that carried tokens.
    const known = await resolve(ev.blockHashes);
    const engineKeys: bigint[] = [];
    const requestKeys: bigint[] = [];
    known.forEach((rk, i) => {
      if (rk === undefined) return;
      engineKeys.push(ev.blockHashes[i]!);
      requestKeys.push(rk);
    });
    if (requestKeys.length < ev.blockHashes.length) {
      ctx.onAnomaly?.(
        "unresolved_placeholder",
        `${ev.blockHashes.length - requestKeys.length} of ${ev.blockHashes.length} token-less blocks unknown`,
      );
    }
    return requestKeys.length > 0 ? { kind: "add", tier, engineKeys, requestKeys } : null;
  }

  if (ev.blockSize !== ctx.blockSize) {
    ctx.onAnomaly?.(
      "block_size_mismatch",
      `event block size ${ev.blockSize}, index block size ${ctx.blockSize}`,
    );
    return null;
  }
  if (ev.tokenIds.length !== ev.blockHashes.length * ev.blockSize) {
    ctx.onAnomaly?.(
      "token_count_mismatch",
      `${ev.tokenIds.length} tokens for ${ev.blockHashes.length} blocks of ${ev.blockSize}`,
    );
    return null;
  }
  let parentKey: bigint | null = null;
  if (ev.parentBlockHash !== undefined) {
    const [known] = await resolve([ev.parentBlockHash]);
    if (known === undefined) {
      ctx.onAnomaly?.("unknown_parent", `parent ${ev.parentBlockHash.toString(16)} never seen`);
      parentKey = orphanParent(ev.parentBlockHash);
    } else {
      parentKey = known;
    }
  }
  // Typed arrays hash much faster (subarray per block instead of a slice).
  const requestKeys = requestKeyHasher(model).keys(Uint32Array.from(ev.tokenIds), {
    blockSize: ev.blockSize,
    parentKey,
    extraKeys: extraKeysFromProto(ev.extraKeys),
    loraName: ev.loraName ?? null,
    loraId: ev.loraId === undefined ? null : Number(ev.loraId),
    rules: ctx.rulesFor?.(model),
  });
  return { kind: "add", tier, engineKeys: ev.blockHashes, requestKeys };
}
