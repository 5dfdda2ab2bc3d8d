// SHA-256 of Python 3.11 `pickle.dumps(x, protocol=5)` for each value (computed once with CPython,
// see the comment per case): ints of every opcode width, a tag string repeated (memo BINGET),
// a long string (BINUNICODE), bytes >= 256 (BINBYTES), and a pickle over 64 KiB (several frames).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type PickleValue, pickleDumps } from "../../src/index.ts";

const big = Array.from({ length: 20000 }, (_, i) => (i * 7919) % 200000);
const cases: [string, PickleValue, number, string][] = [
  ['"0"', "0", 16, "1973e23848344dc43a988a9b478663803cfffe1243480253f9a3cf004b14aa7c"],
  [
    "(b'\\x07'*32, (1, 2, 300, 70000, 2**31-1, 2**31, 2**32-1), None)",
    [new Uint8Array(32).fill(7), [1, 2, 300, 70000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1], null],
    84,
    "18ba9071409ed90fbf63c9b9231b351b8f67b7e4fae22725dec43b88f987b1e8",
  ],
  [
    '(bytes(16), (), (("lora","a","/p"), ("mm","x",-3), ("mm","y",5), ("cache_salt","s")))',
    [
      new Uint8Array(16),
      [],
      [
        ["lora", "a", "/p"],
        ["mm", "x", -3],
        ["mm", "y", 5],
        ["cache_salt", "s"],
      ],
    ],
    100,
    "3bd3d6f925aebc1a7cd7fd3328877ec4e9d759005fe8a7985e1a31fb47147c9f",
  ],
  [
    '((1,2,3,4), -1, -129, -2**31, -2**31-1, 2**63, -(2**64), "é"+"x"*300)',
    [
      [1, 2, 3, 4],
      -1,
      -129,
      -2147483648,
      -2147483649,
      2n ** 63n,
      -18446744073709551616n,
      `é${"x".repeat(300)}`,
    ],
    378,
    "27d1ce594bd52b0a0b57e33417b7f1332abb9135b1c6df505bf1c1485bb53cb0",
  ],
  [
    "(bytes(300), tuple((i*7919) % 200000 for i in range(20000)), None)",
    [new Uint8Array(300), big, null],
    87195,
    "fcb33dbd23c40b38e19a2be83b170deec876badb279e1cad1fc2b4e406a20b13",
  ],
];

describe("kv-blocks pickle - CPython protocol 5", () => {
  it.each(cases)("%s", (_, value, length, sha) => {
    const bytes = pickleDumps(value);
    expect(bytes.length).toBe(length);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(sha);
  });

  it("starts with PROTO 5 and a FRAME, ends with STOP", () => {
    const b = pickleDumps([1, null]);
    expect([...b.subarray(0, 3)]).toEqual([0x80, 5, 0x95]);
    expect(b[b.length - 1]).toBe(0x2e);
  });
});
