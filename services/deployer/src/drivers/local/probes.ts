/** vLLM's readiness: GET /health answers 200 once the model is loaded. */
export async function healthy(address: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${address}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Requests the server still holds (running + waiting), from vLLM's Prometheus gauges; undefined
 * when it cannot tell (no /metrics), in which case the drain waits out its grace period.
 */
export async function inFlight(address: string, timeoutMs: number): Promise<number | undefined> {
  try {
    const res = await fetch(`${address}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    const text = await res.text();
    let total: number | undefined;
    for (const line of text.split("\n")) {
      const m = /^vllm:num_requests_(running|waiting)(\{[^}]*\})?\s+([0-9.eE+-]+)/.exec(line);
      if (m) total = (total ?? 0) + Number(m[3]);
    }
    return total;
  } catch {
    return undefined;
  }
}
