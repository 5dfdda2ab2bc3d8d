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
import { HolderStore } from "./holders.ts";
import { joinHalves, KeyTable, keyHalves, type PackedKeys, packKeys } from "./key-table.ts";

interface EngineState {
  name: string;
  /** This engine's number in its model (index into ModelState.engineAt and the walk's marks). */
  slot: number;
  /** engine key -> request key. */
  engineToRequest: Map<bigint, bigint>;
  /** Key slots (see ModelState.holders) this engine holds a copy of. */
  held: Set<number>;
  checkpoint: Checkpoint | undefined;
}

interface ModelState {
  name: string;
  /** request key -> key slot. */
  keys: KeyTable;
  /** Per key slot: the key's halves and its holders. */
  keyLo: Uint32Array;
  keyHi: Uint32Array;
  holders: HolderStore;
  /** Key slots handed out so far; freed ones are reused first. */
  keySlots: number;
  freeKeySlots: number[];
  engines: Map<string, EngineState>;
  engineAt: (EngineState | undefined)[];
  freeEngineSlots: number[];
  /** Per engine slot: the walk step at which the engine last held the block (any tier / GPU). */
  anyMark: Int32Array;
  gpuMark: Int32Array;
  step: number;
}

/** The holder field counting a tier's copies (see HolderStore). */
const tierField = (tier: Tier): 1 | 2 => (tier === "gpu" ? 1 : 2);

/**
 * The index in process memory: the fastest lookups (no network hop), one full copy per
 * process. Every replica converges by consuming the event stream from its start.
 *
 * Laid out for the pick path: request keys live in an open-addressing table of uint32 halves
 * (`KeyTable`), engines are small integers per model, and a key's holders sit in its record, so a
 * prefix walk allocates nothing per block and costs one table probe plus a pass over the key's
 * holders and the engines still matching.
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
    if (requestKeys.length === 0 || !this.#models.has(model)) return [];
    return this.lookupPacked(model, packKeys(requestKeys), engines);
  }

  /**
   * `lookupSync` with the keys already packed (`packKeys`, or the scorer's request-key cache).
   * With `fill`, keys are computed on demand: `fill(i)` must write key i into `keys`; it is called
   * for i = 0, 1, 2, … in order, and only as far as the walk goes (it stops at the first block no
   * engine holds, so a prompt's new tail is never hashed just to be looked up).
   */
  lookupPacked(
    model: string,
    keys: PackedKeys,
    engines?: ReadonlySet<string>,
    fill?: (i: number) => void,
  ): PrefixMatch[] {
    const state = this.#models.get(model);
    const n = keys.length >>> 1;
    if (!state || n === 0) return [];
    fill?.(0);
    const first = state.keys.get(keys[0]!, keys[1]!);
    if (first < 0) return [];
    const holders = state.holders;
    const matches: PrefixMatch[] = [];
    const slots: number[] = [];
    for (let j = 0, n0 = holders.count(first); j < n0; j++) {
      const slot = holders.get(first, j, 0);
      const name = state.engineAt[slot]!.name;
      if (engines && !engines.has(name)) continue;
      matches.push({ engine: name, gpuBlocks: holders.get(first, j, 1) > 0 ? 1 : 0, anyBlocks: 1 });
      slots.push(slot);
    }
    // Walk while some engine is still matching; an engine leaves a tier's run at its first miss.
    // Each step stamps the block's holders in per-engine marks, then compacts the run lists in
    // place: no allocation and no hashing per block beyond the one key-table probe.
    const anyRun: number[] = [];
    const gpuRun: number[] = [];
    for (let j = 0; j < matches.length; j++) {
      anyRun.push(j);
      if (matches[j]!.gpuBlocks === 1) gpuRun.push(j);
    }
    let nAny = anyRun.length;
    let nGpu = gpuRun.length;
    const { anyMark, gpuMark } = state;
    const { keyLo, keyHi } = state;
    let at = first;
    for (let i = 1; i < n && nAny > 0; i++) {
      fill?.(i);
      const lo = keys[2 * i]!;
      const hi = keys[2 * i + 1]!;
      // A chain stored in one batch got consecutive slots: try the next one before the table (a live
      // slot holding this key is the key's only slot), which keeps the walk on sequential memory.
      at++;
      if (!(at < state.keySlots && keyLo[at] === lo && keyHi[at] === hi && holders.count(at) > 0)) {
        at = state.keys.get(lo, hi);
        if (at < 0) break;
      }
      const step = this.#step(state);
      holders.mark(at, anyMark, gpuMark, step);
      let w = 0;
      for (let r = 0; r < nAny; r++) {
        const j = anyRun[r]!;
        if (anyMark[slots[j]!] !== step) continue;
        matches[j]!.anyBlocks = i + 1;
        anyRun[w++] = j;
      }
      nAny = w;
      w = 0;
      for (let r = 0; r < nGpu; r++) {
        const j = gpuRun[r]!;
        if (gpuMark[slots[j]!] !== step) continue;
        matches[j]!.gpuBlocks = i + 1;
        gpuRun[w++] = j;
      }
      nGpu = w;
    }
    return matches;
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
      if (op.kind === "add") this.#add(modelState, state, op.tier, op.engineKeys, op.requestKeys);
      else if (op.kind === "evict") this.#evict(modelState, state, op.tier, op.engineKeys);
      else this.#clear(modelState, state);
    }
    return true;
  }

  async forget(model: string, engine: string) {
    const modelState = this.#models.get(model);
    const state = modelState?.engines.get(engine);
    if (!modelState || !state) return;
    this.#clear(modelState, state);
    modelState.engines.delete(engine);
    modelState.engineAt[state.slot] = undefined;
    modelState.freeEngineSlots.push(state.slot);
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
    const modelState = this.#models.get(model);
    const state = modelState?.engines.get(engine);
    const snap: EngineSnapshot = { engineToRequest: new Map(), copies: { gpu: new Map(), cpu: new Map() } };
    if (!modelState || !state) return snap;
    snap.engineToRequest = new Map(state.engineToRequest);
    for (const at of state.held) {
      const holders = modelState.holders;
      const j = holders.find(at, state.slot);
      const rk = joinHalves(modelState.keyLo[at]!, modelState.keyHi[at]!);
      if (holders.get(at, j, 1) > 0) snap.copies.gpu.set(rk, holders.get(at, j, 1));
      if (holders.get(at, j, 2) > 0) snap.copies.cpu.set(rk, holders.get(at, j, 2));
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
      state = {
        name: model,
        keys: new KeyTable(),
        keyLo: new Uint32Array(16),
        keyHi: new Uint32Array(16),
        holders: new HolderStore(),
        keySlots: 0,
        freeKeySlots: [],
        engines: new Map(),
        engineAt: [],
        freeEngineSlots: [],
        anyMark: new Int32Array(16),
        gpuMark: new Int32Array(16),
        step: 0,
      };
      this.#models.set(model, state);
    }
    return state;
  }

  #engine(modelState: ModelState, engine: string): EngineState {
    let state = modelState.engines.get(engine);
    if (!state) {
      const slot = modelState.freeEngineSlots.pop() ?? modelState.engineAt.length;
      state = { name: engine, slot, engineToRequest: new Map(), held: new Set(), checkpoint: undefined };
      modelState.engines.set(engine, state);
      modelState.engineAt[slot] = state;
      if (slot >= modelState.anyMark.length) {
        modelState.anyMark = grown(modelState.anyMark, slot);
        modelState.gpuMark = grown(modelState.gpuMark, slot);
      }
    }
    return state;
  }

  /** A fresh mark for one walk step (marks of earlier steps never equal it). */
  #step(state: ModelState): number {
    if (state.step === 0x7fffffff) {
      state.anyMark.fill(0);
      state.gpuMark.fill(0);
      state.step = 0;
    }
    return ++state.step;
  }

  /** The slot of a request key, allocated (with no holders yet) when absent. */
  #keySlot(modelState: ModelState, lo: number, hi: number): number {
    let at = modelState.keys.get(lo, hi);
    if (at >= 0) return at;
    at = modelState.freeKeySlots.pop() ?? modelState.keySlots++;
    if (at >= modelState.keyLo.length) {
      modelState.keyLo = grown(modelState.keyLo, at);
      modelState.keyHi = grown(modelState.keyHi, at);
    }
    modelState.keyLo[at] = lo;
    modelState.keyHi[at] = hi;
    modelState.holders.reset(at);
    modelState.keys.set(lo, hi, at);
    return at;
  }

  #add(
    modelState: ModelState,
    state: EngineState,
    tier: Tier,
    engineKeys: readonly bigint[] | null,
    requestKeys: readonly bigint[],
  ) {
    const f = tierField(tier);
    const cap = this.#limits.maxEntriesPerEngine ?? 0;
    const packed = packKeys(requestKeys);
    const holders = modelState.holders;
    let dropped = 0;
    for (let i = 0; i < requestKeys.length; i++) {
      const lo = packed[2 * i]!;
      const hi = packed[2 * i + 1]!;
      const existing = modelState.keys.get(lo, hi);
      let j = existing >= 0 ? holders.find(existing, state.slot) : -1;
      if (j < 0 && cap > 0 && state.held.size >= cap) {
        dropped++;
        continue;
      }
      const at = existing >= 0 ? existing : this.#keySlot(modelState, lo, hi);
      if (j < 0) {
        j = holders.append(at, state.slot);
        state.held.add(at);
        this.#entries++;
      }
      holders.set(at, j, f, holders.get(at, j, f) + 1);
      if (engineKeys) state.engineToRequest.set(engineKeys[i]!, requestKeys[i]!);
    }
    if (dropped > 0) this.#limits.onDropped?.(modelState.name, state.name, dropped);
  }

  #evict(modelState: ModelState, state: EngineState, tier: Tier, engineKeys: readonly bigint[]) {
    const f = tierField(tier);
    const holders = modelState.holders;
    for (const ek of engineKeys) {
      const rk = state.engineToRequest.get(ek);
      if (rk === undefined) continue;
      const [lo, hi] = keyHalves(rk);
      const at = modelState.keys.get(lo, hi);
      const j = at >= 0 ? holders.find(at, state.slot) : -1;
      if (j < 0) {
        state.engineToRequest.delete(ek);
        continue;
      }
      const copies = holders.get(at, j, f);
      if (copies === 0) continue;
      holders.set(at, j, f, copies - 1);
      if (holders.get(at, j, 1) + holders.get(at, j, 2) > 0) continue;
      state.engineToRequest.delete(ek);
      this.#drop(modelState, state, at, j);
    }
  }

  /** Removes the engine's holder entry `j` of key slot `at`; frees the slot when nobody holds it. */
  #drop(modelState: ModelState, state: EngineState, at: number, j: number) {
    modelState.holders.remove(at, j);
    state.held.delete(at);
    if (modelState.holders.count(at) === 0) {
      modelState.keys.delete(modelState.keyLo[at]!, modelState.keyHi[at]!);
      modelState.freeKeySlots.push(at);
    }
    this.#entries--;
  }

  #clear(modelState: ModelState, state: EngineState) {
    for (const at of [...state.held]) {
      this.#drop(modelState, state, at, modelState.holders.find(at, state.slot));
    }
    state.engineToRequest.clear();
  }
}

/** A copy of `a` with room for index `at` (doubling). */
function grown<T extends Uint32Array | Int32Array>(a: T, at: number): T {
  let n = a.length;
  while (n <= at) n *= 2;
  const out = new (a.constructor as new (n: number) => T)(n);
  out.set(a);
  return out;
}
