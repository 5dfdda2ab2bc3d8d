import type {
  ApplyOptions,
  BlockIndex,
  Checkpoint,
  EngineSnapshot,
  IndexLimits,
  IndexOp,
  PrefixMatch,
  Tier,
} from "./block-index.ts";
import { ApplyBasedIndex } from "./block-index.ts";

/** Copies per tier of one request key on one engine: [gpu, cpu]. */
type Copies = [number, number];

interface EngineState {
  /** engine key -> request key. */
  engineToRequest: Map<bigint, bigint>;
  /** request key -> copies; the same array object is referenced from ModelState.keys. */
  held: Map<bigint, Copies>;
  checkpoint: Checkpoint | undefined;
}

interface ModelState {
  name: string;
  /** request key -> engine -> copies. */
  keys: Map<bigint, Map<string, Copies>>;
  engines: Map<string, EngineState>;
}

const tierSlot = (tier: Tier): 0 | 1 => (tier === "gpu" ? 0 : 1);

/**
 * The index in process memory: the fastest lookups (no network hop), one full copy per
 * process. Every replica converges by consuming the event stream from its start.
 */
export class InMemoryBlockIndex extends ApplyBasedIndex implements BlockIndex {
  readonly backend = "memory";
  #models = new Map<string, ModelState>();
  #generation: string | undefined;
  #entries = 0;
  readonly #limits: IndexLimits;

  constructor(limits: IndexLimits = {}) {
    super();
    this.#limits = limits;
  }

  async lookup(model: string, requestKeys: readonly bigint[], engines?: ReadonlySet<string>) {
    return this.lookupSync(model, requestKeys, engines);
  }

  /** Synchronous lookup, for callers on the hot path that can skip the promise. */
  lookupSync(model: string, requestKeys: readonly bigint[], engines?: ReadonlySet<string>): PrefixMatch[] {
    const state = this.#models.get(model);
    const first = requestKeys.length > 0 ? state?.keys.get(requestKeys[0]!) : undefined;
    if (!state || !first) return [];
    const matches = new Map<string, PrefixMatch>();
    for (const [engine, copies] of first) {
      if (engines && !engines.has(engine)) continue;
      matches.set(engine, { engine, gpuBlocks: copies[0] > 0 ? 1 : 0, anyBlocks: 1 });
    }
    // Walk while some engine is still matching; an engine leaves a tier's run at its first miss.
    // Compacting the run lists in place keeps the hot loop free of allocations.
    const anyRun = [...matches.values()];
    const gpuRun = anyRun.filter((m) => m.gpuBlocks === 1);
    let nAny = anyRun.length;
    let nGpu = gpuRun.length;
    for (let i = 1; i < requestKeys.length && nAny > 0; i++) {
      const holders = state.keys.get(requestKeys[i]!);
      if (!holders) break;
      let w = 0;
      for (let r = 0; r < nAny; r++) {
        const m = anyRun[r]!;
        if (!holders.has(m.engine)) continue;
        m.anyBlocks = i + 1;
        anyRun[w++] = m;
      }
      nAny = w;
      w = 0;
      for (let r = 0; r < nGpu; r++) {
        const m = gpuRun[r]!;
        const copies = holders.get(m.engine);
        if (!copies || copies[0] === 0) continue;
        m.gpuBlocks = i + 1;
        gpuRun[w++] = m;
      }
      nGpu = w;
    }
    return [...matches.values()];
  }

  async requestKeysFor(model: string, engine: string, engineKeys: readonly bigint[]) {
    const state = this.#models.get(model)?.engines.get(engine);
    return engineKeys.map((k) => state?.engineToRequest.get(k));
  }

  async apply(model: string, engine: string, ops: readonly IndexOp[], options: ApplyOptions = {}) {
    for (const op of ops) {
      if (op.kind === "add" && op.engineKeys && op.engineKeys.length !== op.requestKeys.length) {
        throw new Error(
          `add: ${op.engineKeys.length} engine keys for ${op.requestKeys.length} request keys (must match)`,
        );
      }
    }
    const modelState = this.#model(model);
    const state = this.#engine(modelState, engine);
    if (options.checkpoint !== undefined) {
      if (state.checkpoint !== undefined && state.checkpoint.seq >= options.checkpoint) return false;
      if (options.after !== undefined && (state.checkpoint?.seq ?? -1n) < options.after) return false;
      state.checkpoint = { seq: options.checkpoint, meta: options.meta ?? "" };
    }
    for (const op of ops) {
      if (op.kind === "add") this.#add(modelState, engine, state, op.tier, op.engineKeys, op.requestKeys);
      else if (op.kind === "evict") this.#evict(modelState, engine, state, op.tier, op.engineKeys);
      else this.#clear(modelState, engine, state);
    }
    return true;
  }

  async forget(model: string, engine: string) {
    const modelState = this.#models.get(model);
    const state = modelState?.engines.get(engine);
    if (!modelState || !state) return;
    this.#clear(modelState, engine, state);
    modelState.engines.delete(engine);
    if (modelState.engines.size === 0) this.#models.delete(model);
  }

  async checkpoint(model: string, engine: string) {
    return this.#models.get(model)?.engines.get(engine)?.checkpoint;
  }

  async models() {
    return [...this.#models.keys()];
  }

  async engines(model: string) {
    return [...(this.#models.get(model)?.engines.keys() ?? [])];
  }

  async snapshot(model: string, engine: string): Promise<EngineSnapshot> {
    const state = this.#models.get(model)?.engines.get(engine);
    const snap: EngineSnapshot = { engineToRequest: new Map(), copies: { gpu: new Map(), cpu: new Map() } };
    if (!state) return snap;
    snap.engineToRequest = new Map(state.engineToRequest);
    for (const [rk, copies] of state.held) {
      if (copies[0] > 0) snap.copies.gpu.set(rk, copies[0]);
      if (copies[1] > 0) snap.copies.cpu.set(rk, copies[1]);
    }
    return snap;
  }

  async size() {
    return this.#entries;
  }

  async generation() {
    return this.#generation;
  }

  async setGeneration(id: string) {
    this.#generation = id;
  }

  async reset() {
    this.#models.clear();
    this.#generation = undefined;
    this.#entries = 0;
  }

  async close() {}

  #model(model: string): ModelState {
    let state = this.#models.get(model);
    if (!state) {
      state = { name: model, keys: new Map(), engines: new Map() };
      this.#models.set(model, state);
    }
    return state;
  }

  #engine(modelState: ModelState, engine: string): EngineState {
    let state = modelState.engines.get(engine);
    if (!state) {
      state = { engineToRequest: new Map(), held: new Map(), checkpoint: undefined };
      modelState.engines.set(engine, state);
    }
    return state;
  }

  #add(
    modelState: ModelState,
    engine: string,
    state: EngineState,
    tier: Tier,
    engineKeys: readonly bigint[] | null,
    requestKeys: readonly bigint[],
  ) {
    const slot = tierSlot(tier);
    const cap = this.#limits.maxEntriesPerEngine ?? 0;
    let dropped = 0;
    for (let i = 0; i < requestKeys.length; i++) {
      const rk = requestKeys[i]!;
      let copies = state.held.get(rk);
      if (!copies && cap > 0 && state.held.size >= cap) {
        dropped++;
        continue;
      }
      if (!copies) {
        copies = [0, 0];
        state.held.set(rk, copies);
        let holders = modelState.keys.get(rk);
        if (!holders) {
          holders = new Map();
          modelState.keys.set(rk, holders);
        }
        holders.set(engine, copies);
        this.#entries++;
      }
      copies[slot]++;
      if (engineKeys) state.engineToRequest.set(engineKeys[i]!, rk);
    }
    if (dropped > 0) this.#limits.onDropped?.(modelState.name, engine, dropped);
  }

  #evict(
    modelState: ModelState,
    engine: string,
    state: EngineState,
    tier: Tier,
    engineKeys: readonly bigint[],
  ) {
    const slot = tierSlot(tier);
    for (const ek of engineKeys) {
      const rk = state.engineToRequest.get(ek);
      if (rk === undefined) continue;
      const copies = state.held.get(rk);
      if (!copies) {
        state.engineToRequest.delete(ek);
        continue;
      }
      if (copies[slot] === 0) continue;
      copies[slot]--;
      if (copies[0] + copies[1] > 0) continue;
      state.engineToRequest.delete(ek);
      this.#drop(modelState, engine, state, rk);
    }
  }

  #drop(modelState: ModelState, engine: string, state: EngineState, rk: bigint) {
    state.held.delete(rk);
    const holders = modelState.keys.get(rk);
    holders?.delete(engine);
    if (holders?.size === 0) modelState.keys.delete(rk);
    this.#entries--;
  }

  #clear(modelState: ModelState, engine: string, state: EngineState) {
    for (const rk of [...state.held.keys()]) this.#drop(modelState, engine, state, rk);
    state.engineToRequest.clear();
  }
}
