/**
 * 64-bit block keys as two uint32 halves, `[lo0, hi0, lo1, hi1, …]`. V8 hashes a `bigint` Map key
 * from its digits on every lookup and keeps each one as its own heap object; two uint32 halves in a
 * typed array cost neither, so the in-memory index and its callers on the pick path carry keys this way.
 */
export type PackedKeys = Uint32Array;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `keys` as PackedKeys (one conversion for the whole list; keys are taken modulo 2^64). */
export function packKeys(keys: readonly bigint[]): PackedKeys {
  const wide = new BigUint64Array(keys.length);
  wide.set(keys);
  const out = new Uint32Array(wide.buffer);
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < out.length; i += 2) {
      const hi = out[i]!;
      out[i] = out[i + 1]!;
      out[i + 1] = hi;
    }
  }
  return out;
}

/** The low and high 32 bits of one key. */
export function keyHalves(key: bigint): [lo: number, hi: number] {
  return [Number(BigInt.asUintN(32, key)), Number(BigInt.asUintN(32, key >> 32n))];
}

export function joinHalves(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

const MIN_BITS = 4;

/**
 * Open-addressing hash map from a 64-bit key (two uint32 halves) to a non-negative int, in one
 * typed array of `[lo, hi, value + 1]` triples (0 = empty): a lookup allocates nothing and usually
 * touches one cache line. Linear probing with backward-shift deletion (no tombstones, so a
 * long-lived table does not slow down); grows at half full and never shrinks (the index's memory
 * bound caps what it holds).
 */
export class KeyTable {
  #cells: Uint32Array;
  #bits: number;
  #mask: number;
  #size = 0;

  constructor(capacity = 1 << MIN_BITS) {
    this.#bits = Math.max(MIN_BITS, Math.ceil(Math.log2(Math.max(1, capacity))));
    this.#mask = (1 << this.#bits) - 1;
    this.#cells = new Uint32Array(3 << this.#bits);
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.#cells.byteLength;
  }

  /** The value stored for the key, or -1. */
  get(lo: number, hi: number): number {
    const cells = this.#cells;
    const mask = this.#mask;
    for (let i = this.#home(lo, hi); ; i = (i + 1) & mask) {
      const c = 3 * i;
      const v = cells[c + 2]!;
      if (v === 0) return -1;
      if (cells[c] === lo && cells[c + 1] === hi) return v - 1;
    }
  }

  /** Stores `value` (0 <= value < 2^32 - 1) for the key, replacing any previous one. */
  set(lo: number, hi: number, value: number): void {
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    const cells = this.#cells;
    const mask = this.#mask;
    for (let i = this.#home(lo, hi); ; i = (i + 1) & mask) {
      const c = 3 * i;
      if (cells[c + 2] === 0) {
        cells[c] = lo;
        cells[c + 1] = hi;
        cells[c + 2] = value + 1;
        this.#size++;
        return;
      }
      if (cells[c] === lo && cells[c + 1] === hi) {
        cells[c + 2] = value + 1;
        return;
      }
    }
  }

  delete(lo: number, hi: number): boolean {
    const cells = this.#cells;
    const mask = this.#mask;
    let i = this.#home(lo, hi);
    for (; ; i = (i + 1) & mask) {
      const c = 3 * i;
      if (cells[c + 2] === 0) return false;
      if (cells[c] === lo && cells[c + 1] === hi) break;
    }
    // Backward shift: move later entries of the probe run into the hole when their home allows it.
    for (let j = (i + 1) & mask; cells[3 * j + 2] !== 0; j = (j + 1) & mask) {
      const home = this.#home(cells[3 * j]!, cells[3 * j + 1]!);
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      cells.copyWithin(3 * i, 3 * j, 3 * j + 3);
      i = j;
    }
    cells[3 * i + 2] = 0;
    this.#size--;
    return true;
  }

  clear(): void {
    this.#cells.fill(0);
    this.#size = 0;
  }

  #home(lo: number, hi: number): number {
    // Block keys are hash outputs already, but tests and tools use small integers: mix both halves.
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - this.#bits);
  }

  #grow(): void {
    const old = this.#cells;
    this.#bits++;
    this.#mask = (1 << this.#bits) - 1;
    this.#cells = new Uint32Array(3 << this.#bits);
    this.#size = 0;
    for (let c = 0; c < old.length; c += 3)
      if (old[c + 2] !== 0) this.set(old[c]!, old[c + 1]!, old[c + 2]! - 1);
  }
}
