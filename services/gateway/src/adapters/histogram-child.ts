import type { Histogram } from "prom-client";

/** The parts of prom-client's Histogram (v15) this reaches into; see `histogramChild`. */
interface HistogramInternals {
  hashMap: Record<string, Entry>;
  upperBounds: readonly number[];
  zero(labels: Record<string, string>): void;
}
interface Entry {
  labels: Record<string, string>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * An `observe` for one label set of a prom-client Histogram, for series observed once per
 * streamed token (ITL). prom-client's bound child (`labels(...).observe`) still builds a
 * labels/value object, validates the labels and hashes them into a string key on every call
 * (~1 µs; two ITL histograms make it ~0.5 ms per 256-token stream); this finds the label set's
 * entry once and then adds to its bucket, sum and count, exactly what prom-client's `observe`
 * does after the lookup. The entry is looked up again whenever the histogram no longer holds it
 * (`reset()`, `remove()`). Relies on prom-client 15's internal `hashMap`: the test
 * `histogram-child.test.ts` compares the exposition with plain `observe` calls.
 */
export function histogramChild<T extends string>(
  histogram: Histogram<T>,
  labels: Record<T, string>,
): (value: number) => void {
  const h = histogram as unknown as HistogramInternals;
  const bounds = h.upperBounds;
  const keys = bounds.map(String);
  let map: Record<string, Entry> | undefined;
  let key = "";
  let entry: Entry | undefined;
  const bind = (): Entry => {
    const find = () => Object.keys(h.hashMap).find((k) => sameLabels(h.hashMap[k]!.labels, labels));
    let k = find();
    if (k === undefined) {
      h.zero(labels);
      k = find()!;
    }
    map = h.hashMap;
    key = k;
    entry = map[k]!;
    return entry;
  };
  return (value) => {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const e = entry !== undefined && map === h.hashMap && map[key] === entry ? entry : bind();
    e.sum += value;
    e.count += 1;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        e.bucketValues[keys[i]!]! += 1;
        return;
      }
    }
  };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
