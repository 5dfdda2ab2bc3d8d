import type { Endpoint } from "../framework/types.ts";

/**
 * Min-max normalisation where lower raw values are better: the lowest gets 1, the highest 0, all
 * equal -> 1. Endpoints whose value is undefined stay unscored.
 */
export function lowerIsBetter(
  endpoints: readonly Endpoint[],
  value: (e: Endpoint) => number | undefined,
): Map<string, number> {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  const known: [string, number][] = [];
  for (const e of endpoints) {
    const v = value(e);
    if (v === undefined || Number.isNaN(v)) continue;
    known.push([e.pod, v]);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Map<string, number>();
  const span = max - min;
  for (const [pod, v] of known) out.set(pod, span > 0 ? (max - v) / span : 1);
  return out;
}
