import { encode as cborgEncode } from "cborg";
import type { ExtraKeyValue } from "../events/types.ts";

/**
 * Deterministic ("canonical") CBOR for the value shapes vLLM hashes: unsigned/negative integers,
 * byte strings, text strings, arrays (Python tuples), null, booleans. The output equals Python's
 * `cbor2.dumps(value, canonical=True)` for these shapes: canonical mode only affects map-key
 * order and float width, and floats (never seen in block keys) are delegated to cborg, which
 * also picks the shortest exact width. Hand-written because it sits on the block-hash hot path.
 */

const utf8 = new TextEncoder();
const U64_MAX = (1n << 64n) - 1n;

export class CborWriter {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.pos = 0;
  }

  /** The bytes written so far, as a view over the internal buffer (valid until the next write). */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Major type + argument in the shortest form; `arg` must be a non-negative safe integer. */
  head(major: number, arg: number): void {
    this.ensure(9);
    const m = major << 5;
    const b = this.buf;
    if (arg < 24) b[this.pos++] = m | arg;
    else if (arg < 0x100) {
      b[this.pos++] = m | 24;
      b[this.pos++] = arg;
    } else if (arg < 0x10000) {
      b[this.pos++] = m | 25;
      b[this.pos++] = arg >>> 8;
      b[this.pos++] = arg & 0xff;
    } else if (arg < 0x100000000) {
      b[this.pos++] = m | 26;
      this.view.setUint32(this.pos, arg);
      this.pos += 4;
    } else {
      b[this.pos++] = m | 27;
      this.view.setBigUint64(this.pos, BigInt(arg));
      this.pos += 8;
    }
  }

  private headBig(major: number, arg: bigint): void {
    if (arg < 0x100000000n) {
      this.head(major, Number(arg));
      return;
    }
    if (arg > U64_MAX) throw new RangeError(`integer argument ${arg} does not fit in 64 bits`);
    this.ensure(9);
    this.buf[this.pos++] = (major << 5) | 27;
    this.view.setBigUint64(this.pos, arg);
    this.pos += 8;
  }

  uint(n: number): void {
    this.head(0, n);
  }

  int(n: number | bigint): void {
    if (typeof n === "bigint") {
      if (n >= 0n) this.headBig(0, n);
      else this.headBig(1, -1n - n);
    } else if (!Number.isSafeInteger(n)) {
      throw new RangeError(`integer ${n} is not a safe integer`);
    } else if (n >= 0) this.head(0, n);
    else this.head(1, -1 - n);
  }

  byteString(bytes: Uint8Array): void {
    this.head(2, bytes.length);
    this.raw(bytes);
  }

  text(s: string): void {
    const bytes = utf8.encode(s);
    this.head(3, bytes.length);
    this.raw(bytes);
  }

  arrayHeader(n: number): void {
    this.head(4, n);
  }

  null(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0xf6;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Writes a generic extra-key value (see the module comment for the supported shapes). */
  value(v: ExtraKeyValue): void {
    if (v === null) this.null();
    else if (v === true) this.raw(TRUE);
    else if (v === false) this.raw(FALSE);
    else if (typeof v === "string") this.text(v);
    else if (typeof v === "bigint") this.int(v);
    else if (typeof v === "number") {
      if (Number.isSafeInteger(v)) this.int(v);
      else this.raw(cborgEncode(v));
    } else if (v instanceof Uint8Array) this.byteString(v);
    else {
      this.arrayHeader(v.length);
      for (const item of v) this.value(item);
    }
  }
}

const TRUE = Uint8Array.of(0xf5);
const FALSE = Uint8Array.of(0xf4);

/** Canonical CBOR of one value (cbor2 `canonical=True` equivalent for the supported shapes). */
export function encodeCanonicalCbor(value: ExtraKeyValue): Uint8Array {
  const w = new CborWriter(64);
  w.value(value);
  return w.bytes();
}
