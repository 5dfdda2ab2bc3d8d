import { BlockPool } from "./block-pool.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { jitteredStepSeconds, type LatencyProfile, type StepShape } from "./latency.ts";
import { EngineRequest, type FinishInfo, type RemotePrefill, type RequestListener } from "./request.ts";
import { Rng } from "./rng.ts";
import { type ScheduledStep, Scheduler } from "./scheduler.ts";
import type { BlockHasher, FinishReason, KvCacheEvent, LoraRef } from "./types.ts";

export interface EngineConfig {
  readonly blockSize: number;
  readonly numGpuBlocks: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly maxModelLen: number;
  readonly maxLoras: number;
  readonly longPrefillTokenThreshold?: number;
  readonly profile: LatencyProfile;
  readonly seed: number;
  /** If the event loop falls this far behind the step timeline, re-anchor on the wall clock, ms. */
  readonly maxLagMs?: number;
}

export interface StepInfo {
  readonly startMs: number;
  readonly endMs: number;
  readonly prefillTokens: number;
  readonly decodeSeqs: number;
  readonly scheduledSeqs: number;
}

/** Statistics hooks (metrics live outside the engine); all optional, called synchronously. */
export interface EngineObserver {
  onQueued?(req: EngineRequest, queueMs: number): void;
  onPrefixLookup?(queries: number, hits: number): void;
  onPreemption?(req: EngineRequest): void;
  onFirstToken?(req: EngineRequest, ttftMs: number): void;
  onToken?(req: EngineRequest, itlMs: number): void;
  onFinish?(req: EngineRequest, info: FinishInfo): void;
  onStep?(info: StepInfo): void;
  /** One batch per engine step (as vLLM publishes after the model step), plus reset events. */
  onKvEvents?(events: KvCacheEvent[], timeMs: number): void;
}

export interface AddRequestParams {
  readonly id: string;
  readonly promptTokens: readonly number[];
  readonly outputTokens: readonly number[];
  /** Why generation ends after `outputTokens`: an EOS ("stop") or the token limit ("length"). */
  readonly finishReason: "stop" | "length";
  readonly lora?: LoraRef | null;
  /** vLLM `cache_salt` of the request. */
  readonly cacheSalt?: string | null;
  /** max_tokens as the request gave it (metrics only). */
  readonly maxTokensParam?: number | null;
  readonly remotePrefill?: RemotePrefill | null;
  readonly listener: RequestListener;
  /** When the request reached the server (vLLM: before tokenization); default now. */
  readonly arrivalMs?: number;
  /** Keep the KV blocks referenced this long after finishing (P/D prefill side), ms. */
  readonly holdBlocksMs?: number;
}

export class EngineInputError extends Error {}

/**
 * A vLLM-V1-shaped engine: one scheduler pass and one timer per step; the step time comes from the
 * latency profile. Pure apart from the injected clock, so tests drive it with a VirtualClock.
 */
export class Engine {
  readonly pool: BlockPool;
  readonly scheduler: Scheduler;
  readonly config: EngineConfig;
  private readonly clock: Clock;
  private readonly hasher: BlockHasher;
  private readonly rng: Rng;
  private readonly observers: EngineObserver[] = [];
  private readonly byId = new Map<string, EngineRequest>();
  private timer: TimerHandle | null = null;
  private inFlight: { step: ScheduledStep; startMs: number; endMs: number; shape: StepShape } | null = null;
  private inCallback = false;
  private stepCount = 0;
  private busyWallMs = 0;

  constructor(config: EngineConfig, clock: Clock, hasher: BlockHasher) {
    if (config.maxNumSeqs < 1) throw new Error("maxNumSeqs must be >= 1");
    if (config.maxNumBatchedTokens < 1) throw new Error("maxNumBatchedTokens must be >= 1");
    this.config = config;
    this.clock = clock;
    this.hasher = hasher;
    this.rng = new Rng(config.seed);
    this.pool = new BlockPool(config.numGpuBlocks, config.blockSize);
    this.scheduler = new Scheduler(
      this.pool,
      {
        maxNumSeqs: config.maxNumSeqs,
        maxNumBatchedTokens: config.maxNumBatchedTokens,
        maxModelLen: config.maxModelLen,
        maxLoras: config.maxLoras,
        longPrefillTokenThreshold: config.longPrefillTokenThreshold ?? 0,
      },
      {
        onFirstScheduled: (req, t) => this.emit((o) => o.onQueued?.(req, t - req.queuedMs)),
        onPrefixLookup: (q, h) => this.emit((o) => o.onPrefixLookup?.(q, h)),
        onPreempted: (req) => this.emit((o) => o.onPreemption?.(req)),
      },
    );
  }

  addObserver(o: EngineObserver): void {
    this.observers.push(o);
  }

  get numRunning(): number {
    return this.scheduler.running.length;
  }

  get numWaiting(): number {
    return this.scheduler.numWaiting;
  }

  /** The engine clock's time, ms (use for `arrivalMs`). */
  now(): number {
    return this.clock.now();
  }

  get steps(): number {
    return this.stepCount;
  }

  /** Wall-clock ms spent inside scheduling and output processing (CPU cost of the simulator). */
  get busyMs(): number {
    return this.busyWallMs;
  }

  /** Names of LoRA adapters of running / waiting requests (vllm:lora_requests_info). */
  loraNames(): { running: string[]; waiting: string[] } {
    const names = (rs: EngineRequest[]) => [...new Set(rs.flatMap((r) => (r.lora ? [r.lora.name] : [])))];
    return {
      running: names(this.scheduler.running),
      waiting: names([...this.scheduler.waiting, ...this.scheduler.transferring]),
    };
  }

  /** Validates and enqueues a request; it starts on the next step. Throws EngineInputError on bad input. */
  add(p: AddRequestParams): EngineRequest {
    if (this.byId.has(p.id)) throw new EngineInputError(`request id ${p.id} is already in use`);
    if (p.promptTokens.length === 0) throw new EngineInputError("the prompt is empty");
    if (p.outputTokens.length === 0) throw new EngineInputError("max_tokens must be at least 1");
    const total = p.promptTokens.length + p.outputTokens.length;
    if (total > this.config.maxModelLen) {
      throw new EngineInputError(
        `This model's maximum context length is ${this.config.maxModelLen} tokens. However, you requested ` +
          `${total} tokens (${p.promptTokens.length} in the messages, ${p.outputTokens.length} in the completion).`,
      );
    }
    if (Math.ceil(total / this.config.blockSize) > this.pool.capacity) {
      throw new EngineInputError(
        `request needs ${Math.ceil(total / this.config.blockSize)} KV blocks but the cache has only ${this.pool.capacity}`,
      );
    }
    const req = new EngineRequest({
      id: p.id,
      promptTokens: p.promptTokens,
      plannedOutput: p.outputTokens,
      plannedFinish: p.finishReason,
      lora: p.lora ?? null,
      cacheSalt: p.cacheSalt ?? null,
      maxTokensParam: p.maxTokensParam ?? null,
      arrivalMs: Math.min(p.arrivalMs ?? Number.POSITIVE_INFINITY, this.clock.now()),
      queuedMs: this.clock.now(),
      listener: p.listener,
      remotePrefill: p.remotePrefill ?? null,
      holdBlocksMs: p.holdBlocksMs ?? 0,
      hasher: this.hasher,
      blockSize: this.config.blockSize,
    });
    this.byId.set(p.id, req);
    this.scheduler.add(req);
    this.wake();
    return req;
  }

  /** Client went away: free the request's blocks now (vLLM aborts on disconnect). */
  abort(id: string): void {
    const req = this.byId.get(id);
    if (!req || req.status === "finished") return;
    this.finish(req, "abort", this.clock.now());
  }

  /**
   * vLLM /reset_prefix_cache; publishes AllBlocksCleared. Without `resetRunningRequests` it succeeds
   * only when no request holds blocks. With it (vLLM's `?reset_running_requests=true`) the running
   * requests are preempted first and recomputed afterwards, so the reset lands under load; a step
   * already in flight discards its results for them (as vLLM discards the in-flight async tokens).
   * Blocks still held for a KV transfer make it fail either way.
   */
  resetPrefixCache(resetRunningRequests = false): boolean {
    if (!resetRunningRequests && (this.scheduler.hasWork() || this.inFlight)) return false;
    if (resetRunningRequests) this.scheduler.preemptAllRunning(); // counted through onPreempted
    const ok = this.pool.resetPrefixCache();
    if (ok) this.flushEvents(this.clock.now());
    if (resetRunningRequests) this.wake();
    return ok;
  }

  /** Stops the step timer; pending requests are left as they are (used on shutdown). */
  stop(): void {
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.inFlight = null;
  }

  private emit(f: (o: EngineObserver) => void): void {
    for (const o of this.observers) f(o);
  }

  private wake(): void {
    if (this.inCallback || this.inFlight || !this.scheduler.hasWork()) return;
    if (this.timer) {
      // Idle timer waiting for a KV transfer: a new request may be schedulable right away.
      this.clock.clearTimer(this.timer);
      this.timer = null;
    }
    this.startStep(this.clock.now());
  }

  private startStep(t: number): void {
    const wall0 = performance.now();
    const step = this.scheduler.schedule(t);
    if (step.entries.length === 0) {
      // Nothing can run now: idle, or only KV transfers / held blocks pending.
      const ready = this.scheduler.nextWakeMs();
      if (ready !== null) {
        this.timer = this.clock.setTimer(ready, () => {
          this.timer = null;
          this.startStep(Math.max(ready, this.clock.now()));
        });
      }
      this.flushEvents(t);
      this.busyWallMs += performance.now() - wall0;
      return;
    }
    const prefill: { context: number; tokens: number }[] = [];
    let decodeSeqs = 0;
    let decodeContext = 0;
    for (const e of step.entries) {
      if (e.isDecode) {
        decodeSeqs++;
        decodeContext += e.context;
      } else prefill.push({ context: e.context, tokens: e.numNewTokens });
    }
    const shape: StepShape = { prefill, decodeSeqs, decodeContextTokens: decodeContext };
    const endMs = t + jitteredStepSeconds(this.config.profile, shape, this.rng) * 1000;
    this.inFlight = { step, startMs: t, endMs, shape };
    this.timer = this.clock.setTimer(endMs, () => this.completeStep());
    this.busyWallMs += performance.now() - wall0;
  }

  private completeStep(): void {
    const wall0 = performance.now();
    const f = this.inFlight;
    this.timer = null;
    if (!f) return;
    this.inFlight = null;
    const now = this.clock.now();
    // Keep the logical step timeline (timer lateness must not add up) unless we fell far behind.
    const t = now - f.endMs > (this.config.maxLagMs ?? 20) ? now : f.endMs;
    this.stepCount++;
    this.inCallback = true;
    try {
      for (const e of f.step.entries) {
        const req = e.req;
        if (req.status !== "running") continue; // aborted or preempted meanwhile
        req.numComputed += e.numNewTokens;
        if (req.numComputed < req.numTokens) continue; // partial prefill chunk: no token
        const index = req.numOutputTokens;
        const token = req.plannedOutput[index]!;
        req.appendToken(token);
        if (req.firstTokenMs === null) {
          req.firstTokenMs = t;
          this.emit((o) => o.onFirstToken?.(req, t - req.arrivalMs));
        } else {
          const prev = req.lastTokenMs ?? t;
          this.emit((o) => o.onToken?.(req, t - prev));
        }
        req.lastTokenMs = t;
        req.listener.onToken(token, index, t);
        if (req.numOutputTokens >= req.plannedOutput.length) this.finish(req, req.plannedFinish, t);
        else if (req.numTokens >= this.config.maxModelLen) this.finish(req, "length", t);
      }
      this.flushEvents(t);
      let prefillTokens = 0;
      for (const c of f.shape.prefill) prefillTokens += c.tokens;
      const info: StepInfo = {
        startMs: f.startMs,
        endMs: t,
        prefillTokens,
        decodeSeqs: f.shape.decodeSeqs,
        scheduledSeqs: f.step.entries.length,
      };
      this.emit((o) => o.onStep?.(info));
    } finally {
      this.inCallback = false;
    }
    this.busyWallMs += performance.now() - wall0;
    if (this.scheduler.hasWork() || this.scheduler.nextWakeMs() !== null) this.startStep(t);
  }

  private finish(req: EngineRequest, reason: FinishReason, t: number): void {
    const blockIds = [...req.blockIds];
    if (reason !== "abort" && req.holdBlocksMs > 0) this.scheduler.removeHolding(req, t + req.holdBlocksMs);
    else this.scheduler.remove(req);
    this.byId.delete(req.id);
    const info: FinishInfo = {
      reason,
      promptTokens: req.numPromptTokens,
      outputTokens: req.numOutputTokens,
      cachedTokens: Math.max(0, req.cachedTokens),
      arrivalMs: req.arrivalMs,
      firstScheduledMs: req.firstScheduledMs,
      firstTokenMs: req.firstTokenMs,
      finishMs: t,
      preemptions: req.numPreemptions,
      blockIds,
    };
    this.emit((o) => o.onFinish?.(req, info));
    req.listener.onFinish(info);
    // An abort between steps can unblock waiting requests.
    if (reason === "abort") this.wake();
  }

  private flushEvents(t: number): void {
    const events = this.pool.drainEvents();
    if (events.length > 0) this.emit((o) => o.onKvEvents?.(events, t));
  }
}
