/** Holders kept in the key slot's own record; more spill into a plain array. */
const INLINE = 4;
const STRIDE = 1 + 3 * INLINE;

/**
 * The holders of every key slot of one model: per holder its engine number and its GPU and CPU
 * copies (fields 0, 1, 2), in the order the engines first stored the key (the order lookups answer
 * in). The first holders of a slot sit inline in one Int32Array, `[count, engine, gpu, cpu, …]`, so a
 * prefix walk reads one record per block instead of following a pointer to an array of its own.
 */
export class HolderStore {
  #inline = new Int32Array(16 * STRIDE);
  readonly #extra: (number[] | undefined)[] = [];

  /** Makes room for slot `at` and empties it. */
  reset(at: number): void {
    if ((at + 1) * STRIDE > this.#inline.length) {
      let n = this.#inline.length;
      while ((at + 1) * STRIDE > n) n *= 2;
      const grown = new Int32Array(n);
      grown.set(this.#inline);
      this.#inline = grown;
    }
    this.#inline[at * STRIDE] = 0;
    this.#extra[at] = undefined;
  }

  count(at: number): number {
    return this.#inline[at * STRIDE]!;
  }

  /** Field `f` (0 engine, 1 GPU copies, 2 CPU copies) of holder `j`. */
  get(at: number, j: number, f: number): number {
    return j < INLINE ? this.#inline[at * STRIDE + 1 + 3 * j + f]! : this.#extra[at]![3 * (j - INLINE) + f]!;
  }

  set(at: number, j: number, f: number, value: number): void {
    if (j < INLINE) this.#inline[at * STRIDE + 1 + 3 * j + f] = value;
    else this.#extra[at]![3 * (j - INLINE) + f] = value;
  }

  /** The index of `engine` among the holders, or -1. */
  find(at: number, engine: number): number {
    const n = this.count(at);
    for (let j = 0; j < n; j++) if (this.get(at, j, 0) === engine) return j;
    return -1;
  }

  /** Adds `engine` as the last holder, with no copies yet; returns its index. */
  append(at: number, engine: number): number {
    const j = this.count(at);
    if (j < INLINE) {
      const o = at * STRIDE + 1 + 3 * j;
      this.#inline[o] = engine;
      this.#inline[o + 1] = 0;
      this.#inline[o + 2] = 0;
    } else {
      // Replaced rather than pushed: an array grown by push reserves ~16 spare elements.
      this.#extra[at] = [...(this.#extra[at] ?? []), engine, 0, 0];
    }
    this.#inline[at * STRIDE] = j + 1;
    return j;
  }

  /** Removes holder `j`; the ones after it move up (order kept). */
  remove(at: number, j: number): void {
    const n = this.count(at);
    for (let m = j; m < n - 1; m++) for (let f = 0; f < 3; f++) this.set(at, m, f, this.get(at, m + 1, f));
    if (n - 1 >= INLINE) {
      const extra = this.#extra[at]!;
      extra.length -= 3;
      if (extra.length === 0) this.#extra[at] = undefined;
    }
    this.#inline[at * STRIDE] = n - 1;
  }

  /** Sets `anyMark[engine] = step` for every holder, and `gpuMark[engine] = step` for those on GPU. */
  mark(at: number, anyMark: Int32Array, gpuMark: Int32Array, step: number): void {
    const inline = this.#inline;
    const base = at * STRIDE;
    const n = inline[base]!;
    for (let j = 0, o = base + 1; j < n && j < INLINE; j++, o += 3) {
      anyMark[inline[o]!] = step;
      if (inline[o + 1]! > 0) gpuMark[inline[o]!] = step;
    }
    const extra = this.#extra[at];
    if (extra === undefined) return;
    for (let k = 0; k < extra.length; k += 3) {
      anyMark[extra[k]!] = step;
      if (extra[k + 1]! > 0) gpuMark[extra[k]!] = step;
    }
  }
}
