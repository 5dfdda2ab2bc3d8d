/**
 * A small msgpack writer that makes exactly the bytes Python's msgspec makes for the value shapes
 * of vLLM KV events: integers in their shortest form (uint64 `0xcf` only when needed), every float
 * as float64 (`0xcb`, msgspec never narrows Python floats), str8/16/32, bin8/16/32, arrays and maps.
 * @msgpack/msgpack cannot be told to keep an integral float as a float, hence this writer.
 */

/** A float that must be written as float64 even when it is integral (Python `float`). */
export class Float64 {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

/** Values the writer understands. Plain objects become maps in insertion order. */
export type MsgpackValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Float64
  | readonly MsgpackValue[]
  | { readonly [key: string]: MsgpackValue };

const utf8 = new TextEncoder();
const shortStrings = new Map<string, Uint8Array>();
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

export class MsgpackWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** The bytes written so far, as a view over the internal buffer (valid until the next write). */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private u8(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  private headU8(head: number, v: number): void {
    this.ensure(2);
    this.buf[this.pos++] = head;
    this.buf[this.pos++] = v;
  }

  private headU16(head: number, v: number): void {
    this.ensure(3);
    this.buf[this.pos++] = head;
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  private headU32(head: number, v: number): void {
    this.ensure(5);
    this.buf[this.pos++] = head;
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  write(value: MsgpackValue): this {
    if (value === null) this.u8(0xc0);
    else if (value === true) this.u8(0xc3);
    else if (value === false) this.u8(0xc2);
    else if (typeof value === "number") {
      if (Number.isSafeInteger(value)) this.intNumber(value);
      else this.float64(value);
    } else if (typeof value === "bigint") this.int(value);
    else if (typeof value === "string") this.str(value);
    else if (value instanceof Uint8Array) this.bin(value);
    else if (value instanceof Float64) this.float64(value.value);
    else if (Array.isArray(value)) {
      this.arrayHeader(value.length);
      for (const item of value) this.write(item);
    } else {
      const entries = Object.entries(value as { readonly [key: string]: MsgpackValue });
      this.mapHeader(entries.length);
      for (const [k, v] of entries) {
        this.str(k);
        this.write(v);
      }
    }
    return this;
  }

  /** Safe integer in its shortest form, without going through BigInt (the token-id hot path). */
  intNumber(v: number): void {
    if (v >= 0) {
      if (v < 128) this.u8(v);
      else if (v < 0x100) this.headU8(0xcc, v);
      else if (v < 0x10000) this.headU16(0xcd, v);
      else if (v < 0x100000000) this.headU32(0xce, v);
      else this.int(BigInt(v));
    } else if (v >= -32) this.u8(v & 0xff);
    else if (v >= -0x80) this.headU8(0xd0, v & 0xff);
    else if (v >= -0x8000) this.headU16(0xd1, v & 0xffff);
    else if (v >= -0x80000000) this.headU32(0xd2, v >>> 0);
    else this.int(BigInt(v));
  }

  int(v: bigint): void {
    if (v > U64_MAX || v < I64_MIN) throw new RangeError(`integer ${v} does not fit in 64 bits`);
    if (v >= 0n) {
      if (v < 128n) this.u8(Number(v));
      else if (v < 0x100n) this.headU8(0xcc, Number(v));
      else if (v < 0x10000n) this.headU16(0xcd, Number(v));
      else if (v < 0x100000000n) this.headU32(0xce, Number(v));
      else {
        this.ensure(9);
        this.buf[this.pos++] = 0xcf;
        this.view.setBigUint64(this.pos, v);
        this.pos += 8;
      }
    } else if (v >= -32n) this.u8(Number(v) & 0xff);
    else if (v >= -0x80n) this.headU8(0xd0, Number(v) & 0xff);
    else if (v >= -0x8000n) this.headU16(0xd1, Number(v) & 0xffff);
    else if (v >= -0x80000000n) this.headU32(0xd2, Number(v) >>> 0);
    else {
      this.ensure(9);
      this.buf[this.pos++] = 0xd3;
      this.view.setBigInt64(this.pos, v);
      this.pos += 8;
    }
  }

  float64(v: number): void {
    this.ensure(9);
    this.buf[this.pos++] = 0xcb;
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  str(s: string): void {
    let bytes = s.length <= 32 ? shortStrings.get(s) : undefined;
    if (bytes === undefined) {
      bytes = utf8.encode(s);
      // Field names and tags repeat in every event: keep their encodings.
      if (s.length <= 32 && shortStrings.size < 1024) shortStrings.set(s, bytes);
    }
    const n = bytes.length;
    if (n < 32) this.u8(0xa0 | n);
    else if (n < 0x100) this.headU8(0xd9, n);
    else if (n < 0x10000) this.headU16(0xda, n);
    else this.headU32(0xdb, n);
    this.raw(bytes);
  }

  bin(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n < 0x100) this.headU8(0xc4, n);
    else if (n < 0x10000) this.headU16(0xc5, n);
    else this.headU32(0xc6, n);
    this.raw(bytes);
  }

  arrayHeader(n: number): void {
    if (n < 16) this.u8(0x90 | n);
    else if (n < 0x10000) this.headU16(0xdc, n);
    else this.headU32(0xdd, n);
  }

  /**
   * Map header for `n` entries. `maxEntries`: msgspec sizes a struct's header for all its declared
   * fields (plus the tag) before omitting defaults, so a struct that *could* have 16+ entries gets
   * a map16 header even when fewer are written.
   */
  mapHeader(n: number, maxEntries = n): void {
    if (maxEntries < 16) this.u8(0x80 | n);
    else if (n < 0x10000) this.headU16(0xde, n);
    else this.headU32(0xdf, n);
  }

  private raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

/** Encodes one value (see MsgpackWriter for the exact forms). */
export function encodeMsgpack(value: MsgpackValue): Uint8Array {
  return new MsgpackWriter().write(value).bytes();
}
