import { monitorEventLoopDelay } from "node:perf_hooks";
import { Pool } from "undici";
import type { ApiKind } from "../lib/options.ts";
import type { RequestRecord } from "../lib/results.ts";
import { parseChunk, SseReader } from "../lib/sse.ts";
import { materialize, type TraceRequest, type TraceStage } from "../lib/trace.ts";

export interface Target {
  /** Origin, e.g. http://127.0.0.1:8080. */
  readonly origin: string;
  /** Name reported as the serving endpoint when the response does not say (oracle: the pod). */
  readonly name: string | null;
}

export interface LoadGenOptions {
  readonly api: ApiKind;
  readonly model: string;
  readonly words: readonly string[];
  readonly connections: number;
  /** Where a request goes: the gateway for every routed policy; the oracle's choice of server. */
  readonly route: (req: TraceRequest) => Target;
}

export interface StageProgress {
  readonly sent: number;
  readonly total: number;
  readonly done: number;
  readonly inFlight: number;
  readonly elapsed: number;
  readonly duration: number;
  /** Worst lateness so far this stage, ms. */
  readonly lagMaxMs: number;
}

export interface StageRun {
  readonly records: RequestRecord[];
  readonly eventLoopP99Ms: number;
  readonly eventLoopMaxMs: number;
  /** Requests cut off when the drain timed out (recorded as errors). */
  readonly aborted: number;
}

interface ChatMessage {
  role: string;
  content: string;
}

interface Session {
  history: ChatMessage[];
  /** Settles when the latest turn finished (whatever its outcome). */
  last: Promise<void>;
}

const PATH: Record<ApiKind, string> = { chat: "/v1/chat/completions", completion: "/v1/completions" };

/**
 * Open-loop load generator: sends each request of a stage at its scheduled offset without waiting
 * for earlier ones (no in-flight cap), streams the answer, and records TTFT at the first content chunk
 * and the gap between successive content chunks (ITL). It measures its own lateness (actual minus
 * scheduled send time) and its event-loop delay, which bound how much of the latency is its own.
 */
export class LoadGenerator {
  private readonly o: LoadGenOptions;
  private readonly pools = new Map<string, Pool>();
  private readonly sessions = new Map<number, Session>();

  constructor(o: LoadGenOptions) {
    this.o = o;
  }

  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: this.o.connections,
        pipelining: 1,
        keepAliveTimeout: 120_000,
        headersTimeout: 900_000,
        bodyTimeout: 900_000,
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
    this.pools.clear();
  }

  /**
   * Runs one stage: sends on schedule, then waits for the answers up to `drainTimeoutMs` after the
   * last send; whatever is still running then is aborted and recorded as an error.
   */
  async runStage(
    stage: TraceStage,
    drainTimeoutMs: number,
    onProgress?: (p: StageProgress) => void,
    interrupt?: AbortSignal,
  ): Promise<StageRun> {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const abort = new AbortController();
    const onInterrupt = () => abort.abort(new Error("interrupted"));
    interrupt?.addEventListener("abort", onInterrupt, { once: true });
    const records: RequestRecord[] = [];
    const running: Promise<void>[] = [];
    let done = 0;
    let lagMax = 0;
    const t0 = performance.now() + 20;
    const reqs = stage.requests;
    const report = () =>
      onProgress?.({
        sent: records.length,
        total: reqs.length,
        done,
        inFlight: records.length - done,
        elapsed: (performance.now() - t0) / 1000,
        duration: stage.duration,
        lagMaxMs: lagMax,
      });
    const ticker = setInterval(report, 250);
    try {
      for (const req of reqs) {
        if (abort.signal.aborted) break;
        const due = t0 + req.at * 1000;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        const rec = this.newRecord(req, due);
        records.push(rec);
        running.push(
          this.send(req, rec, abort.signal).finally(() => {
            done++;
          }),
        );
        if (Number.isFinite(rec.sentAt)) lagMax = Math.max(lagMax, rec.sentAt - due);
      }
      // Arrivals end with the stage's duration even when the last gap is long.
      const end = t0 + stage.duration * 1000 - performance.now();
      if (end > 1 && !abort.signal.aborted) await sleep(end);
      const all = Promise.all(running).then(() => true);
      const drained = await Promise.race([all, sleep(drainTimeoutMs).then(() => false)]);
      let aborted = 0;
      if (!drained) {
        aborted = records.length - done;
        abort.abort(new Error(`still running ${drainTimeoutMs / 1000} s after the stage (drain timeout)`));
        await all;
      }
      loop.disable();
      return {
        records,
        eventLoopP99Ms: loop.percentile(99) / 1e6,
        eventLoopMaxMs: loop.max / 1e6,
        aborted,
      };
    } finally {
      interrupt?.removeEventListener("abort", onInterrupt);
      clearInterval(ticker);
      report();
    }
  }

  private newRecord(req: TraceRequest, scheduledAt: number): RequestRecord {
    return {
      index: req.index,
      stage: req.stage,
      group: req.group,
      scheduledAt,
      sentAt: Number.NaN,
      dependencyWaitMs: 0,
      firstTokenAt: null,
      endAt: null,
      status: 0,
      error: null,
      itls: [],
      outputChunks: 0,
      promptTokens: req.textTokens,
      completionTokens: 0,
      cachedTokens: null,
      endpoint: null,
    };
  }

  private async send(req: TraceRequest, rec: RequestRecord, signal: AbortSignal): Promise<void> {
    let session: Session | undefined;
    let settle: () => void = () => undefined;
    if (req.session !== null) {
      // Multi-turn: the next prompt carries the earlier answers, so it waits for the previous turn.
      session = this.sessions.get(req.session.id);
      if (req.session.turn === 0 || session === undefined) {
        session = { history: [], last: Promise.resolve() };
        this.sessions.set(req.session.id, session);
      }
      const previous = session.last;
      session.last = new Promise<void>((r) => {
        settle = r;
      });
      const before = performance.now();
      await previous;
      rec.dependencyWaitMs = performance.now() - before;
    }
    const target = this.o.route(req);
    const user = materialize(req.user, this.o.words);
    const body = this.body(req, user, session);
    rec.sentAt = performance.now();
    let answer = "";
    try {
      const res = await this.pool(target.origin).request({
        method: "POST",
        path: PATH[this.o.api],
        headers: {
          "content-type": "application/json",
          ...(req.session !== null ? { "x-session-id": `bench-${req.session.id}` } : {}),
        },
        body,
        signal,
      });
      rec.status = res.statusCode;
      // The gateway names the serving pod; a model server (direct policies) names itself like llm-d-inference-sim.
      const ep = res.headers["x-inferd-endpoint"] ?? res.headers["x-inference-pod"];
      rec.endpoint = typeof ep === "string" ? ep : target.name;
      if (res.statusCode !== 200) {
        const text = await res.body.text();
        rec.error = text.slice(0, 200) || `HTTP ${res.statusCode}`;
        return;
      }
      const sse = new SseReader();
      let last = 0;
      let finished = false;
      const onData = (data: string) => {
        if (data === "[DONE]") {
          finished = true;
          return;
        }
        const c = parseChunk(data);
        if (c.error !== null) {
          rec.error = c.error;
          return;
        }
        if (c.usage !== null) {
          if (c.usage.promptTokens !== null) rec.promptTokens = c.usage.promptTokens;
          if (c.usage.completionTokens !== null) rec.completionTokens = c.usage.completionTokens;
          rec.cachedTokens = c.usage.cachedTokens;
        }
        if (c.content === "") return;
        const now = performance.now();
        if (rec.firstTokenAt === null) rec.firstTokenAt = now;
        else rec.itls.push((now - last) / 1000);
        last = now;
        rec.outputChunks++;
        if (session) answer += c.content;
      };
      res.body.setEncoding("utf8");
      for await (const chunk of res.body) for (const data of sse.push(chunk as string)) onData(data);
      for (const data of sse.end()) onData(data);
      rec.endAt = performance.now();
      if (rec.completionTokens === 0) rec.completionTokens = rec.outputChunks;
      if (!finished && rec.error === null) rec.error = "stream ended without [DONE]";
    } catch (err) {
      rec.error = (err as Error).message || String(err);
      if (signal.aborted)
        rec.error = `aborted: ${String((signal.reason as Error)?.message ?? signal.reason)}`;
    } finally {
      if (session) {
        if (rec.error === null && rec.status === 200) {
          session.history.push({ role: "user", content: user }, { role: "assistant", content: answer });
        }
        settle();
      }
    }
  }

  private body(req: TraceRequest, user: string, session: Session | undefined): string {
    const common = {
      model: this.o.model,
      max_tokens: req.maxTokens,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
    };
    if (this.o.api === "completion") return JSON.stringify({ ...common, prompt: (req.system ?? "") + user });
    const messages: ChatMessage[] = [];
    if (req.system !== null) messages.push({ role: "system", content: req.system });
    if (session) messages.push(...session.history);
    messages.push({ role: "user", content: user });
    return JSON.stringify({ ...common, messages });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
