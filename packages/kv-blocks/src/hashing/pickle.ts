/**
 * Python `pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL)` for the values vLLM's `sha256` and
 * `xxhash` block-hash algorithms pickle: tuples of ints, strings, bytes and None (and bools).
 * vLLM calls `pickle.dumps(input, protocol=pickle.HIGHEST_PROTOCOL)` (vllm/utils/hashing.py),
 * which is protocol 5 on every Python vLLM supports (3.8+). Byte for byte what CPython's C
 * pickler writes:
 *
 *   PROTO 5, then frames (FRAME + u64le length when the frame holds >= 4 bytes; a frame is closed
 *   after the value that makes it >= 64 KiB), values, STOP.
 *   int:   BININT1 / BININT2 / BININT (signed 32-bit) / LONG1 (little-endian two's complement)
 *   str:   SHORT_BINUNICODE (< 256 UTF-8 bytes) / BINUNICODE, then MEMOIZE
 *   bytes: SHORT_BINBYTES (< 256) / BINBYTES, then MEMOIZE
 *   tuple: EMPTY_TUPLE; elements + TUPLE1/2/3; MARK + elements + TUPLE; then MEMOIZE
 *
 * The memo is by object identity in Python. Distinct values here are distinct objects, except
 * the extra-key tag literals (`"mm"`, `"lora"`, ...): they are interned constants in vLLM's
 * source, so a second occurrence in one input is a BINGET of the first (golden vectors cover a
 * block with two MM items).
 */

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly PickleValue[]
  | ArrayLike<number>;

/** Strings that are the same object wherever they appear in vLLM's extra keys. */
const INTERNED = new Set(["mm", "lora", "cache_salt", "prompt_embeds"]);

const FRAME_SIZE_TARGET = 64 * 1024;
const FRAME_SIZE_MIN = 4;
const FRAME_HEADER = 9;

export class PickleWriter {
  private buf = new Uint8Array(512);
  private len = 0;
  private frameStart = -1;
  private memoSize = 0;
  private readonly memo = new Map<string, number>();
  private readonly encoder = new TextEncoder();

  /** The complete pickle of `value` (a view into the writer's buffer, valid until the next call). */
  dumps(value: PickleValue): Uint8Array {
    this.len = 0;
    this.frameStart = -1;
    this.memoSize = 0;
    this.memo.clear();
    this.raw([0x80, 5]);
    this.save(value);
    this.raw([0x2e]); // STOP
    this.commitFrame();
    return this.buf.subarray(0, this.len);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Writes bytes, opening a frame (9 reserved header bytes) when none is open (after PROTO). */
  private write(bytes: ArrayLike<number>): void {
    const framing = this.len >= 2;
    const n = bytes.length + (framing && this.frameStart === -1 ? FRAME_HEADER : 0);
    this.ensure(n);
    if (framing && this.frameStart === -1) {
      this.frameStart = this.len;
      this.len += FRAME_HEADER;
    }
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  private raw(bytes: number[]): void {
    this.write(bytes);
  }

  /** Room for `n` more bytes inside an open frame (opening one if needed). */
  private ensureFramed(n: number): void {
    if (this.frameStart === -1) {
      this.write([]);
    }
    this.ensure(n);
  }

  private commitFrame(): void {
    if (this.frameStart === -1) return;
    const frameLen = this.len - this.frameStart - FRAME_HEADER;
    if (frameLen >= FRAME_SIZE_MIN) {
      const view = new DataView(this.buf.buffer, this.buf.byteOffset);
      this.buf[this.frameStart] = 0x95; // FRAME
      view.setBigUint64(this.frameStart + 1, BigInt(frameLen), true);
    } else {
      this.buf.copyWithin(this.frameStart, this.frameStart + FRAME_HEADER, this.len);
      this.len -= FRAME_HEADER;
    }
    this.frameStart = -1;
  }

  /** CPython closes the frame at the first opcode boundary after it reaches 64 KiB. */
  private opcodeBoundary(): void {
    if (this.frameStart !== -1 && this.len - this.frameStart - FRAME_HEADER >= FRAME_SIZE_TARGET) {
      this.commitFrame();
    }
  }

  private memoize(): void {
    this.raw([0x94]); // MEMOIZE
    this.memoSize++;
  }

  private save(v: PickleValue): void {
    this.saveValue(v);
    this.opcodeBoundary();
  }

  private saveValue(v: PickleValue): void {
    if (v === null) {
      this.raw([0x4e]); // NONE
      return;
    }
    if (typeof v === "boolean") {
      this.raw([v ? 0x88 : 0x89]);
      return;
    }
    if (typeof v === "number") {
      if (!Number.isInteger(v)) throw new RangeError(`cannot pickle the non-integer number ${v}`);
      // Token ids: the common 1-3 byte forms without going through BigInt (the hot path).
      if (v >= 0 && v <= 0xffff) {
        this.ensureFramed(3);
        const b = this.buf;
        if (v <= 0xff) {
          b[this.len++] = 0x4b; // BININT1
          b[this.len++] = v;
        } else {
          b[this.len++] = 0x4d; // BININT2
          b[this.len++] = v & 0xff;
          b[this.len++] = v >> 8;
        }
        return;
      }
      this.saveInt(BigInt(v));
      return;
    }
    if (typeof v === "bigint") {
      this.saveInt(v);
      return;
    }
    if (typeof v === "string") {
      this.saveStr(v);
      return;
    }
    if (v instanceof Uint8Array) {
      this.saveBytes(v);
      return;
    }
    this.saveTuple(v);
    return;
  }

  private saveInt(x: bigint): void {
    if (x >= -0x80000000n && x <= 0x7fffffffn) {
      const n = Number(x);
      if (n >= 0 && n <= 0xff) {
        this.raw([0x4b, n]); // BININT1
        return;
      }
      if (n >= 0 && n <= 0xffff) {
        this.raw([0x4d, n & 0xff, n >> 8]); // BININT2
        return;
      }
      this.raw([0x4a, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]); // BININT
      return;
    }
    // LONG1: minimal little-endian two's complement (CPython: nbits/8 + 1 bytes, minus a redundant 0xff).
    const bytes: number[] = [];
    let y = x;
    for (;;) {
      const b = Number(BigInt.asUintN(8, y));
      bytes.push(b);
      y >>= 8n;
      if ((y === 0n && (b & 0x80) === 0) || (y === -1n && (b & 0x80) !== 0)) break;
    }
    if (bytes.length > 255) throw new RangeError("integer too large to pickle with LONG1");
    this.raw([0x8a, bytes.length, ...bytes]);
  }

  private saveStr(s: string): void {
    const interned = INTERNED.has(s);
    if (interned) {
      const index = this.memo.get(s);
      if (index !== undefined) {
        if (index < 256) {
          this.raw([0x68, index]); // BINGET
          return;
        }
        this.raw([0x6a, index & 0xff, (index >>> 8) & 0xff, (index >>> 16) & 0xff, index >>> 24]);
        return;
      }
    }
    const data = this.encoder.encode(s);
    if (data.length < 256)
      this.raw([0x8c, data.length]); // SHORT_BINUNICODE
    else this.raw([0x58, ...le32(data.length)]); // BINUNICODE
    this.write(data);
    if (interned) this.memo.set(s, this.memoSize);
    this.memoize();
  }

  private saveBytes(b: Uint8Array): void {
    if (b.length < 256)
      this.raw([0x43, b.length]); // SHORT_BINBYTES
    else this.raw([0x42, ...le32(b.length)]); // BINBYTES
    this.write(b);
    this.memoize();
  }

  private saveTuple(t: ArrayLike<PickleValue>): void {
    const n = t.length;
    if (n === 0) {
      this.raw([0x29]); // EMPTY_TUPLE (not memoized)
      return;
    }
    if (n > 3) this.raw([0x28]); // MARK
    for (let i = 0; i < n; i++) this.save(t[i] as PickleValue);
    if (n === 1) this.raw([0x85]);
    else if (n === 2) this.raw([0x86]);
    else if (n === 3) this.raw([0x87]);
    else this.raw([0x74]); // TUPLE
    this.memoize();
  }
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/** One-shot `pickle.dumps(value, protocol=5)` (a fresh copy). */
export function pickleDumps(value: PickleValue): Uint8Array {
  return new PickleWriter().dumps(value).slice();
}
