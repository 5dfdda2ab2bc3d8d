import fc from "fast-check";
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { histogramChild } from "../../src/adapters/histogram-child.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1];

function pair() {
  const fast = new Registry();
  const plain = new Registry();
  const make = (registry: Registry) =>
    new Histogram({
      name: "itl_seconds",
      help: "h",
      labelNames: ["model", "pod"],
      buckets: BUCKETS,
      registers: [registry],
    });
  return { fast, plain, fastH: make(fast), plainH: make(plain) };
}

describe("histogramChild", () => {
  it("histogram-child - the exposition equals prom-client's own observe calls", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            label: fc.constantFrom("a", "b"),
            value: fc.oneof(fc.double({ min: 0, max: 3, noNaN: true }), fc.constantFrom(...BUCKETS)),
            // Now and then the series is reset or one label set removed, as a registry reset would.
            op: fc.constantFrom("observe", "observe", "observe", "observe", "reset", "remove"),
          }),
          { maxLength: 60 },
        ),
        async (steps) => {
          const { fast, plain, fastH, plainH } = pair();
          const children = new Map<string, (v: number) => void>();
          const child = (l: string) => {
            let c = children.get(l);
            if (c === undefined) {
              c = histogramChild(fastH, { model: "m", pod: l });
              children.set(l, c);
            }
            return c;
          };
          // Observations made through prom-client before the child exists are kept.
          plainH.labels({ model: "m", pod: "a" }).observe(0.5);
          fastH.labels({ model: "m", pod: "a" }).observe(0.5);
          for (const s of steps) {
            if (s.op === "reset") {
              fastH.reset();
              plainH.reset();
            } else if (s.op === "remove") {
              fastH.remove({ model: "m", pod: s.label });
              plainH.remove({ model: "m", pod: s.label });
            } else {
              child(s.label)(s.value);
              plainH.labels({ model: "m", pod: s.label }).observe(s.value);
            }
          }
          expect(await fast.metrics()).toBe(await plain.metrics());
        },
      ),
    );
  });

  it("histogram-child - a value that is not a finite number throws, as prom-client's observe does", () => {
    const { fastH } = pair();
    const observe = histogramChild(fastH, { model: "m", pod: "a" });
    expect(() => observe(Number.NaN)).toThrow(TypeError);
    expect(() => fastH.labels({ model: "m", pod: "a" }).observe(Number.NaN)).toThrow(TypeError);
  });
});
