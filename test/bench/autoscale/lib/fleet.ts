/**
 * A fleet of simulated vLLM replicas in virtual time: one model-sim step engine per replica on a
 * shared VirtualClock, replicas that take `startupSeconds` to become ready, a least-loaded router,
 * and the gateway's hold for a pool with no ready replica (bounded wait, then a failure). The
 * autoscaling policy under test only sees what the real one sees (arrivals, finished requests,
 * per-replica waiting and KV use, held requests) and answers with a desired replica count.
 */
import { defaultKvTokens, Engine, getProfile, VirtualClock } from "@inferd/model-sim";
import type { Arrival } from "./traces.ts";

export interface FleetOptions {
  readonly profile: string;
  readonly startupSeconds: number;
  readonly seed: number;
  /** How long the gateway holds a request while no replica is ready, s. */
  readonly holdSeconds: number;
  readonly initialReplicas: number;
}

export interface RequestOutcome {
  readonly arrivalMs: number;
  readonly ttftSeconds: number;
  /** Mean inter-token latency of the request (TPOT), s. */
  readonly itlSeconds: number;
  readonly failed: boolean;
}

export interface ReplicaView {
  readonly waiting: number;
  readonly running: number;
  readonly kvUsage: number;
}

/** What a policy may look at on a tick. */
export interface FleetObservation {
  readonly nowMs: number;
  readonly ready: number;
  readonly starting: number;
  readonly replicas: readonly ReplicaView[];
  readonly held: number;
}

export interface Listener {
  arrival?(atMs: number): void;
  finished?(o: RequestOutcome, atMs: number): void;
}

interface Replica {
  readonly id: number;
  readonly engine: Engine;
  readonly readyAtMs: number;
  /** Draining replicas take no new requests and stop once empty. */
  draining: boolean;
  inflight: number;
  stoppedAtMs: number | undefined;
  readonly startedAtMs: number;
}

const BLOCK = 128;
let blockCounter = 0n;
/** Prompts are random: no prefix is shared, so a counter is as good as a hash and far cheaper. */
const cheapHasher = () => {
  blockCounter++;
  const digest = new Uint8Array(8);
  new DataView(digest.buffer).setBigUint64(0, blockCounter);
  return { digest, ext: blockCounter, extraKeys: null };
};

export class Fleet {
  readonly clock = new VirtualClock();
  readonly #o: FleetOptions;
  readonly #replicas: Replica[] = [];
  readonly #held: { arrival: Arrival; untilMs: number }[] = [];
  readonly outcomes: RequestOutcome[] = [];
  readonly #listeners: Listener[] = [];
  #nextId = 0;
  #actions = 0;
  #replicaMs = 0;
  #lastAccountMs = 0;

  constructor(options: FleetOptions) {
    this.#o = options;
    for (let i = 0; i < options.initialReplicas; i++) this.#start(-options.startupSeconds * 1000);
  }

  listen(l: Listener): void {
    this.#listeners.push(l);
  }

  get actions(): number {
    return this.#actions;
  }

  /** Replica-hours so far: a replica counts from its start until it stopped (draining included). */
  get replicaHours(): number {
    return this.#replicaMs / 3_600_000;
  }

  /** Advances virtual time to `ms`, accounting replica time and releasing held requests on the way. */
  advanceTo(ms: number): void {
    this.clock.advanceTo(ms);
    this.#account(ms);
    this.#releaseHeld(ms);
  }

  arrive(a: Arrival): void {
    for (const l of this.#listeners) l.arrival?.(a.atMs);
    const r = this.#pick(a.atMs);
    if (r === undefined) {
      this.#held.push({ arrival: a, untilMs: a.atMs + this.#o.holdSeconds * 1000 });
      return;
    }
    this.#send(r, a);
  }

  observe(): FleetObservation {
    const now = this.clock.now();
    const ready = this.#live().filter((r) => r.readyAtMs <= now && !r.draining);
    const blocks = (r: Replica) => r.engine.pool.usage();
    return {
      nowMs: now,
      ready: ready.length,
      starting: this.#live().filter((r) => r.readyAtMs > now && !r.draining).length,
      replicas: ready.map((r) => ({
        waiting: r.engine.numWaiting,
        running: r.engine.numRunning,
        kvUsage: blocks(r),
      })),
      held: this.#held.length,
    };
  }

  /** Replicas asked for (ready + starting, draining excluded). */
  get size(): number {
    return this.#live().filter((r) => !r.draining).length;
  }

  /** The actuator: start or drain replicas to reach `n`. */
  scaleTo(n: number): void {
    const now = this.clock.now();
    const active = this.#live().filter((r) => !r.draining);
    if (n === active.length) return;
    this.#actions++;
    if (n > active.length) {
      for (let i = active.length; i < n; i++) this.#start(now);
      return;
    }
    // Cancel starting replicas first, then drain the least busy ready ones.
    const order = [...active].sort(
      (a, b) => (b.readyAtMs > now ? 1 : 0) - (a.readyAtMs > now ? 1 : 0) || a.inflight - b.inflight,
    );
    for (const r of order.slice(0, active.length - n)) {
      r.draining = true;
      if (r.inflight === 0) this.#stop(r, now);
    }
  }

  /** Runs until every request has finished or failed (after the trace ends). */
  drain(limitMs: number): void {
    let t = this.clock.now();
    while ((this.#held.length > 0 || this.#live().some((r) => r.inflight > 0)) && t < limitMs) {
      t += 1000;
      this.advanceTo(t);
    }
  }

  #live(): Replica[] {
    return this.#replicas.filter((r) => r.stoppedAtMs === undefined);
  }

  #account(ms: number): void {
    const dt = ms - this.#lastAccountMs;
    if (dt <= 0) return;
    this.#replicaMs += dt * this.#live().length;
    this.#lastAccountMs = ms;
  }

  #start(now: number): void {
    const profile = getProfile(this.#o.profile);
    const engine = new Engine(
      {
        // Large blocks: the same KV capacity in tokens with an eighth of the block bookkeeping
        // (prompts share nothing here, so prefix-cache granularity does not matter).
        blockSize: BLOCK,
        numGpuBlocks: Math.ceil(defaultKvTokens(this.#o.profile) / BLOCK),
        maxNumSeqs: 256,
        maxNumBatchedTokens: 8192,
        maxModelLen: 40_960,
        maxLoras: 0,
        profile,
        seed: this.#o.seed + this.#replicas.length,
      },
      this.clock,
      cheapHasher,
    );
    this.#replicas.push({
      id: this.#replicas.length,
      engine,
      readyAtMs: now + this.#o.startupSeconds * 1000,
      draining: false,
      inflight: 0,
      stoppedAtMs: undefined,
      startedAtMs: now,
    });
  }

  #stop(r: Replica, now: number): void {
    r.stoppedAtMs = now;
    r.engine.stop();
  }

  #pick(now: number): Replica | undefined {
    let best: Replica | undefined;
    let load = Number.POSITIVE_INFINITY;
    for (const r of this.#replicas) {
      if (r.stoppedAtMs !== undefined || r.draining || r.readyAtMs > now) continue;
      const l = r.engine.numRunning + r.engine.numWaiting;
      if (l < load) {
        best = r;
        load = l;
      }
    }
    return best;
  }

  #releaseHeld(now: number): void {
    while (this.#held.length > 0) {
      const h = this.#held[0]!;
      if (h.untilMs <= now) {
        this.#held.shift();
        this.#record({ arrivalMs: h.arrival.atMs, ttftSeconds: 0, itlSeconds: 0, failed: true }, now);
        continue;
      }
      const r = this.#pick(now);
      if (r === undefined) return;
      this.#held.shift();
      this.#send(r, h.arrival);
    }
  }

  #send(r: Replica, a: Arrival): void {
    r.inflight++;
    const id = `q${this.#nextId++}`;
    r.engine.add({
      id,
      promptTokens: randomTokens(a.promptTokens, this.#nextId),
      outputTokens: new Array<number>(a.outputTokens).fill(7),
      finishReason: "length",
      arrivalMs: a.atMs,
      listener: {
        onToken: () => undefined,
        onFinish: (info) => {
          r.inflight--;
          const first = info.firstTokenMs ?? info.finishMs;
          const out = Math.max(1, info.outputTokens - 1);
          this.#record(
            {
              arrivalMs: a.atMs,
              ttftSeconds: (first - a.atMs) / 1000,
              itlSeconds: (info.finishMs - first) / out / 1000,
              failed: info.reason === "abort",
            },
            info.finishMs,
          );
          if (r.draining && r.inflight === 0) this.#stop(r, info.finishMs);
        },
      },
    });
  }

  #record(o: RequestOutcome, atMs: number): void {
    this.outcomes.push(o);
    for (const l of this.#listeners) l.finished?.(o, atMs);
  }
}

function randomTokens(n: number, salt: number): number[] {
  const out = new Array<number>(n);
  let x = (salt * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = 100 + (x % 100_000);
  }
  return out;
}
