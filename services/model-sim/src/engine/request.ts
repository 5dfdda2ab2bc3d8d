import type { BlockHash, BlockHasher, FinishReason, LoraRef } from "./types.ts";

export type RequestStatus = "waiting" | "transferring" | "running" | "finished";

export interface FinishInfo {
  readonly reason: FinishReason;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** Prompt tokens served from the local prefix cache when first scheduled (block-granular). */
  readonly cachedTokens: number;
  readonly arrivalMs: number;
  readonly firstScheduledMs: number | null;
  readonly firstTokenMs: number | null;
  readonly finishMs: number;
  readonly preemptions: number;
  /** Blocks that held the request's KV at finish (what a NixlConnector prefill reports to decode). */
  readonly blockIds: readonly number[];
}

/** Callbacks to the request's owner (HTTP handler); called synchronously from the engine loop. */
export interface RequestListener {
  onToken(tokenId: number, index: number, timeMs: number): void;
  onFinish(info: FinishInfo): void;
}

export interface RemotePrefill {
  /** Fixed time to pull the prompt's KV from the prefill server once blocks are allocated, ms. */
  readonly transferMs: number;
  /** Extra pull time per prompt token not already cached locally, ms. */
  readonly transferMsPerToken?: number;
}

/** One request inside the engine; mirrors the fields of vLLM's Request the scheduler uses. */
export class EngineRequest {
  readonly id: string;
  readonly numPromptTokens: number;
  /** Prompt followed by generated tokens. */
  readonly allTokens: number[];
  /** The tokens this request will generate (decided up front so preemption/recompute replays them). */
  readonly plannedOutput: readonly number[];
  readonly plannedFinish: "stop" | "length";
  readonly lora: LoraRef | null;
  readonly arrivalMs: number;
  /** When the engine received it (after tokenization): start of vLLM's queue interval. */
  readonly queuedMs: number;
  readonly listener: RequestListener;
  readonly remotePrefill: RemotePrefill | null;
  /** Keep the blocks this long after finishing (P/D prefill: until the decode side pulled them), ms. */
  readonly holdBlocksMs: number;
  readonly blockHashes: BlockHash[] = [];
  blockIds: number[] = [];
  /** Blocks of `blockIds` already registered in the pool's cache map. */
  numCachedBlocks = 0;
  numComputed = 0;
  status: RequestStatus = "waiting";
  numPreemptions = 0;
  /** Prompt tokens hit in the prefix cache at first scheduling; -1 until then. */
  cachedTokens = -1;
  firstScheduledMs: number | null = null;
  firstTokenMs: number | null = null;
  lastTokenMs: number | null = null;
  transferReadyMs = 0;
  transferDone = false;
  private readonly hasher: BlockHasher;
  private readonly blockSize: number;
  /** vLLM `cache_salt`: isolates this request's prefix cache (enters the first block's hash). */
  readonly cacheSalt: string | null;
  /** The request's max_tokens parameter (vllm:request_params_max_tokens). */
  readonly maxTokensParam: number | null;

  constructor(init: {
    id: string;
    promptTokens: readonly number[];
    plannedOutput: readonly number[];
    plannedFinish: "stop" | "length";
    lora: LoraRef | null;
    cacheSalt?: string | null;
    maxTokensParam?: number | null;
    arrivalMs: number;
    queuedMs: number;
    listener: RequestListener;
    remotePrefill: RemotePrefill | null;
    holdBlocksMs?: number;
    hasher: BlockHasher;
    blockSize: number;
  }) {
    this.id = init.id;
    this.numPromptTokens = init.promptTokens.length;
    this.allTokens = [...init.promptTokens];
    this.plannedOutput = init.plannedOutput;
    this.plannedFinish = init.plannedFinish;
    this.lora = init.lora;
    this.cacheSalt = init.cacheSalt || null;
    this.maxTokensParam = init.maxTokensParam ?? null;
    this.arrivalMs = init.arrivalMs;
    this.queuedMs = init.queuedMs;
    this.listener = init.listener;
    this.remotePrefill = init.remotePrefill;
    this.holdBlocksMs = init.holdBlocksMs ?? 0;
    this.hasher = init.hasher;
    this.blockSize = init.blockSize;
    this.hashNewFullBlocks();
  }

  get numTokens(): number {
    return this.allTokens.length;
  }

  get numOutputTokens(): number {
    return this.allTokens.length - this.numPromptTokens;
  }

  appendToken(token: number): void {
    this.allTokens.push(token);
    this.hashNewFullBlocks();
  }

  /** vLLM request_block_hasher: hashes every newly full block, chaining from the previous digest. */
  private hashNewFullBlocks(): void {
    const bs = this.blockSize;
    while ((this.blockHashes.length + 1) * bs <= this.allTokens.length) {
      const i = this.blockHashes.length;
      const parent = i === 0 ? null : this.blockHashes[i - 1]!.digest;
      const keys = { start: i * bs, end: (i + 1) * bs, lora: this.lora, cacheSalt: this.cacheSalt };
      this.blockHashes.push(this.hasher(parent, this.allTokens.slice(i * bs, (i + 1) * bs), keys));
    }
  }
}
