import type { BlockPool } from "./block-pool.ts";
import type { EngineRequest } from "./request.ts";

export interface SchedulerConfig {
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly maxModelLen: number;
  /** 0 = unlimited distinct LoRA adapters per batch (LoRA disabled). */
  readonly maxLoras: number;
  /** vLLM long_prefill_token_threshold (0 = off, the default). */
  readonly longPrefillTokenThreshold: number;
}

export interface ScheduledEntry {
  readonly req: EngineRequest;
  readonly numNewTokens: number;
  /** Tokens computed before this chunk (prefix hits included). */
  readonly context: number;
  /** A decode step computes exactly the last sampled token of a request. */
  readonly isDecode: boolean;
}

export interface ScheduledStep {
  readonly entries: ScheduledEntry[];
  readonly preempted: EngineRequest[];
}

/** Hooks for statistics; all optional. */
export interface SchedulerHooks {
  onFirstScheduled?(req: EngineRequest, timeMs: number): void;
  onPrefixLookup?(queries: number, hits: number): void;
  onPreempted?(req: EngineRequest): void;
}

/**
 * vLLM v1 Scheduler.schedule() restricted to what routing can observe: RUNNING requests first (decode or
 * the next prefill chunk, preempting the most recently added running request when blocks run out),
 * then WAITING requests FCFS while seats, token budget and blocks last (chunked prefill, prefix hits
 * capped at n-1 tokens). Requests pulling remote KV (P/D decode side) wait outside the token budget.
 */
export class Scheduler {
  readonly waiting: EngineRequest[] = [];
  readonly running: EngineRequest[] = [];
  readonly transferring: EngineRequest[] = [];
  /** Blocks of finished P/D prefill requests kept until the decode side has pulled them. */
  private readonly held: { untilMs: number; blocks: number[] }[] = [];
  private readonly pool: BlockPool;
  private readonly cfg: SchedulerConfig;
  private readonly hooks: SchedulerHooks;

  constructor(pool: BlockPool, cfg: SchedulerConfig, hooks: SchedulerHooks = {}) {
    this.pool = pool;
    this.cfg = cfg;
    this.hooks = hooks;
  }

  get numWaiting(): number {
    return this.waiting.length + this.transferring.length;
  }

  hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0 || this.transferring.length > 0;
  }

  add(req: EngineRequest): void {
    req.status = "waiting";
    this.waiting.push(req);
  }

  /** Earliest time something changes without a step: a KV transfer completes or held blocks free. */
  nextWakeMs(): number | null {
    let t: number | null = null;
    for (const r of this.transferring) if (t === null || r.transferReadyMs < t) t = r.transferReadyMs;
    for (const h of this.held) if (t === null || h.untilMs < t) t = h.untilMs;
    return t;
  }

  schedule(nowMs: number): ScheduledStep {
    this.releaseHeld(nowMs);
    this.finishTransfers(nowMs);
    const entries: ScheduledEntry[] = [];
    const preempted: EngineRequest[] = [];
    let budget = this.cfg.maxNumBatchedTokens;
    const bs = this.pool.blockSize;

    // 1. RUNNING requests.
    let i = 0;
    while (i < this.running.length && budget > 0) {
      const req = this.running[i]!;
      let n = req.numTokens - req.numComputed;
      if (this.cfg.longPrefillTokenThreshold > 0) n = Math.min(n, this.cfg.longPrefillTokenThreshold);
      n = Math.min(n, budget, this.cfg.maxModelLen - 1 - req.numComputed);
      if (n <= 0) {
        i++;
        continue;
      }
      let scheduled = true;
      while (!this.allocateSlots(req, n, 0, [])) {
        // FCFS preemption: the last running request goes back to the head of the queue (recompute).
        const victim = this.running.pop()!;
        this.preempt(victim);
        preempted.push(victim);
        if (victim === req) {
          scheduled = false;
          break;
        }
      }
      if (!scheduled) break;
      const isDecode = n === 1 && req.numOutputTokens > 0 && req.numComputed === req.numTokens - 1;
      entries.push({ req, numNewTokens: n, context: req.numComputed, isDecode });
      budget -= n;
      i++;
    }

    // 2. WAITING requests, only when nothing was preempted this step (as vLLM).
    if (preempted.length === 0) {
      const loras = new Set<string>();
      for (const r of this.running) if (r.lora) loras.add(r.lora.name);
      const skipped: EngineRequest[] = [];
      while (this.waiting.length > 0 && budget > 0) {
        if (this.running.length >= this.cfg.maxNumSeqs) break;
        const req = this.waiting[0]!;
        if (
          req.lora &&
          this.cfg.maxLoras > 0 &&
          loras.size >= this.cfg.maxLoras &&
          !loras.has(req.lora.name)
        ) {
          skipped.push(this.waiting.shift()!);
          continue;
        }
        let hitBlocks: number[] = [];
        let numComputed = req.numComputed;
        if (numComputed === 0) {
          hitBlocks = this.findLongestCacheHit(req);
          numComputed = hitBlocks.length * bs;
        }
        if (req.remotePrefill && !req.transferDone) {
          // NixlConnector decode side: allocate for the whole prompt, then wait for the KV pull.
          const external = req.numTokens - numComputed;
          if (!this.allocateSlots(req, external, numComputed, hitBlocks, true)) break;
          this.waiting.shift();
          this.recordFirstSchedule(req, numComputed, nowMs);
          req.status = "transferring";
          const rp = req.remotePrefill;
          req.transferReadyMs = nowMs + rp.transferMs + (rp.transferMsPerToken ?? 0) * external;
          this.transferring.push(req);
          continue;
        }
        let n = req.numTokens - numComputed;
        if (this.cfg.longPrefillTokenThreshold > 0) n = Math.min(n, this.cfg.longPrefillTokenThreshold);
        n = Math.min(n, budget);
        const newComputed = numComputed - req.numComputed;
        if (!this.allocateSlots(req, n, newComputed, hitBlocks)) break;
        this.waiting.shift();
        req.numComputed = numComputed;
        this.recordFirstSchedule(req, numComputed, nowMs);
        req.status = "running";
        this.running.push(req);
        if (req.lora) loras.add(req.lora.name);
        const isDecode = n === 1 && req.numOutputTokens > 0 && req.numComputed === req.numTokens - 1;
        entries.push({ req, numNewTokens: n, context: numComputed, isDecode });
        budget -= n;
      }
      if (skipped.length > 0) this.waiting.unshift(...skipped);
    }
    return { entries, preempted };
  }

  /** Removes a request wherever it is and releases its blocks (abort or finish). */
  remove(req: EngineRequest): void {
    for (const q of [this.running, this.waiting, this.transferring]) {
      const i = q.indexOf(req);
      if (i >= 0) q.splice(i, 1);
    }
    this.freeRequestBlocks(req);
    req.status = "finished";
  }

  /**
   * NixlConnector prefill side (vLLM delay_free_blocks): the request is done but its blocks stay
   * referenced (still cached and hittable, not evictable) until `untilMs`.
   */
  removeHolding(req: EngineRequest, untilMs: number): void {
    for (const q of [this.running, this.waiting, this.transferring]) {
      const i = q.indexOf(req);
      if (i >= 0) q.splice(i, 1);
    }
    this.held.push({ untilMs, blocks: [...req.blockIds].reverse() });
    req.blockIds = [];
    req.numCachedBlocks = 0;
    req.status = "finished";
  }

  private releaseHeld(nowMs: number): void {
    for (let i = this.held.length - 1; i >= 0; i--) {
      const h = this.held[i]!;
      if (h.untilMs > nowMs) continue;
      this.held.splice(i, 1);
      this.pool.free(h.blocks);
    }
  }

  /** vLLM find_longest_cache_hit: consecutive cached full blocks, capped at n - 1 tokens. */
  private findLongestCacheHit(req: EngineRequest): number[] {
    const maxBlocks = Math.floor((req.numTokens - 1) / this.pool.blockSize);
    const out: number[] = [];
    for (let i = 0; i < maxBlocks && i < req.blockHashes.length; i++) {
      const b = this.pool.lookup(req.blockHashes[i]!.ext);
      if (b === undefined) break;
      out.push(b);
    }
    return out;
  }

  /**
   * vLLM KVCacheManager.allocate_slots: room for `numNewTokens` after the already computed and newly hit
   * tokens; hit blocks with ref count 0 count against free blocks since touching removes them from the
   * free queue. Caches the blocks that become full (`delayCache` for remote KV: cached once received).
   */
  private allocateSlots(
    req: EngineRequest,
    numNewTokens: number,
    numNewComputedTokens: number,
    hitBlocks: readonly number[],
    delayCache = false,
  ): boolean {
    const bs = this.pool.blockSize;
    const computed = req.numComputed + numNewComputedTokens;
    const need = Math.min(computed + numNewTokens, this.cfg.maxModelLen);
    const required = Math.ceil(need / bs);
    const numNew = Math.max(0, required - req.blockIds.length - hitBlocks.length);
    let evictableHits = 0;
    for (const b of hitBlocks) if (this.pool.refCount(b) === 0) evictableHits++;
    if (numNew + evictableHits > this.pool.freeBlocks) return false;
    if (hitBlocks.length > 0) {
      this.pool.touch(hitBlocks);
      req.blockIds.push(...hitBlocks);
      req.numCachedBlocks = req.blockIds.length;
    }
    if (numNew > 0) req.blockIds.push(...this.pool.getNewBlocks(numNew));
    if (!delayCache) this.cacheBlocks(req, Math.min(computed + numNewTokens, req.numTokens));
    return true;
  }

  /** vLLM cache_full_blocks for the blocks of `numTokens` tokens not yet registered. */
  cacheBlocks(req: EngineRequest, numTokens: number): void {
    const bs = this.pool.blockSize;
    const full = Math.floor(numTokens / bs);
    const from = req.numCachedBlocks;
    if (full <= from) return;
    const parent = from === 0 ? null : req.blockHashes[from - 1]!;
    this.pool.cacheFullBlocks(
      req.blockIds.slice(from, full),
      req.blockHashes.slice(from, full),
      parent,
      req.allTokens.slice(from * bs, full * bs),
      req.lora,
    );
    req.numCachedBlocks = full;
  }

  private recordFirstSchedule(req: EngineRequest, numComputed: number, nowMs: number): void {
    if (req.cachedTokens >= 0) return;
    req.cachedTokens = numComputed;
    req.firstScheduledMs = nowMs;
    this.hooks.onPrefixLookup?.(req.numTokens, numComputed);
    this.hooks.onFirstScheduled?.(req, nowMs);
  }

  /**
   * vLLM Scheduler.reset_prefix_cache(reset_running_requests=True): every running request goes back
   * to the head of the waiting queue in its running order, its blocks freed, to be recomputed.
   */
  preemptAllRunning(): void {
    // Popping from the back and unshifting keeps the running order at the head of the queue.
    while (this.running.length > 0) this.preempt(this.running.pop()!);
  }

  private preempt(req: EngineRequest): void {
    this.freeRequestBlocks(req);
    req.numComputed = 0;
    req.status = "waiting";
    req.numPreemptions++;
    this.waiting.unshift(req);
    this.hooks.onPreempted?.(req);
  }

  private freeRequestBlocks(req: EngineRequest): void {
    // Reverse order: a request's last block reaches the LRU head first and is evicted first.
    const blocks = req.blockIds;
    const rev: number[] = new Array(blocks.length);
    for (let k = 0; k < blocks.length; k++) rev[k] = blocks[blocks.length - 1 - k]!;
    this.pool.free(rev);
    req.blockIds = [];
    req.numCachedBlocks = 0;
  }

  /** vLLM _update_waiting_for_remote_kv: received KV counts as computed, minus the last token. */
  private finishTransfers(nowMs: number): void {
    if (this.transferring.length === 0) return;
    const ready = this.transferring.filter((r) => r.transferReadyMs <= nowMs);
    if (ready.length === 0) return;
    for (const r of ready) {
      this.transferring.splice(this.transferring.indexOf(r), 1);
      r.transferDone = true;
      r.numComputed = r.numTokens - 1;
      this.cacheBlocks(r, r.numComputed);
      r.status = "waiting";
    }
    this.waiting.unshift(...ready);
  }
}
