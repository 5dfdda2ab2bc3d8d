import type { BlockIndex, EngineSnapshot, IndexOp, Tier } from "@inferd/block-index";

export interface BootstrapResult {
  engines: number;
  /** First stream sequence the replica must still apply (1 = the whole stream). */
  startSeq: bigint;
}

/**
 * Index writes that rebuild an engine's snapshot: for each tier, one copy per counted copy of
 * each request key, with its engine key when one maps to it (so later evictions find it).
 */
export function opsFromSnapshot(snap: EngineSnapshot): IndexOp[] {
  const engineKeyOf = new Map<bigint, bigint>();
  for (const [ek, rk] of snap.engineToRequest) engineKeyOf.set(rk, ek);
  const ops: IndexOp[] = [{ kind: "clear" }];
  for (const tier of ["gpu", "cpu"] as Tier[]) {
    const engineKeys: bigint[] = [];
    const requestKeys: bigint[] = [];
    const speculative: bigint[] = [];
    for (const [rk, n] of snap.copies[tier]) {
      const ek = engineKeyOf.get(rk);
      for (let i = 0; i < n; i++) {
        if (ek === undefined) speculative.push(rk);
        else {
          engineKeys.push(ek);
          requestKeys.push(rk);
        }
      }
    }
    if (requestKeys.length > 0) ops.push({ kind: "add", tier, engineKeys, requestKeys });
    if (speculative.length > 0) ops.push({ kind: "add", tier, engineKeys: null, requestKeys: speculative });
  }
  return ops;
}

/**
 * Copies every engine of `source` (the shared Redis index kv-index writes) into `target` (the
 * replica), each with the stream checkpoint it was written at, and says where in the stream the
 * replica must start so that nothing is missed: just after the oldest checkpoint. Messages the
 * copy already holds are refused by the per-engine checkpoint guard, so none is applied twice.
 *
 * An engine's snapshot and checkpoint are read separately while kv-index keeps writing, so the
 * checkpoint is read before and after: a pair that differs is read again (a few times at most,
 * then the engine is copied with the older checkpoint, which replays a little more and, for an
 * add, may count a block copy twice: an over-count only delays that block's eviction).
 */
export async function bootstrapReplica(
  source: BlockIndex,
  target: BlockIndex,
  opts: { models?: readonly string[]; attempts?: number } = {},
): Promise<BootstrapResult> {
  let oldest: bigint | undefined;
  let engines = 0;
  let sawUncheckpointed = false;
  for (const model of await source.models()) {
    if (opts.models && opts.models.length > 0 && !opts.models.includes(model)) continue;
    for (const engine of await source.engines(model)) {
      let before = await source.checkpoint(model, engine);
      let snap = await source.snapshot(model, engine);
      for (let i = 1; i < (opts.attempts ?? 5); i++) {
        const after = await source.checkpoint(model, engine);
        if (after?.seq === before?.seq) break;
        before = after;
        snap = await source.snapshot(model, engine);
      }
      await target.apply(
        model,
        engine,
        opsFromSnapshot(snap),
        before ? { checkpoint: before.seq, meta: before.meta } : undefined,
      );
      engines++;
      if (before === undefined) sawUncheckpointed = true;
      else if (oldest === undefined || before.seq < oldest) oldest = before.seq;
    }
  }
  const startSeq = sawUncheckpointed || oldest === undefined ? 1n : oldest + 1n;
  return { engines, startSeq };
}
