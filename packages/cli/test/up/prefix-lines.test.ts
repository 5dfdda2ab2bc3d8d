import { describe, expect, it } from "vitest";
import { formatPrefix, linePrefixer } from "../../src/up/prefix-lines.ts";

describe("cli up - log prefixes", () => {
  it("prefixes whole lines and holds a partial line until it ends", () => {
    const out: string[] = [];
    const p = linePrefixer("nats | ", (l) => out.push(l));
    p.push("one\ntw");
    expect(out).toEqual(["nats | one\n"]);
    p.push("o\nthree");
    p.flush();
    expect(out).toEqual(["nats | one\n", "nats | two\n", "nats | three\n"]);
  });

  it("pads names to one width and colours only on request", () => {
    expect(formatPrefix("nats", 0, 8, false)).toBe("nats     | ");
    const ESC = String.fromCharCode(27);
    expect(formatPrefix("nats", 0, 8, true)).toBe(`${ESC}[36mnats     | ${ESC}[0m`);
  });
});
