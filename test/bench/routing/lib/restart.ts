/**
 * --restart-server-at: which servers a measured stage kills, and where their process ids come from.
 * Pure; the driver does the killing (driver/restart.ts).
 */

/**
 * The `k` servers killed in measured stage `stageIndex` (0 = first measured stage): consecutive
 * servers, moving on by `k` every stage, so a ladder does not hit the same server (whose cache is
 * already cold from the previous kill) every time.
 */
export function restartTargets(stageIndex: number, k: number, pods: readonly string[]): string[] {
  if (pods.length === 0 || k <= 0) return [];
  const n = Math.min(k, pods.length);
  const sorted = [...pods].sort();
  const out: string[] = [];
  for (let j = 0; j < n; j++) out.push(sorted[(stageIndex * n + j) % sorted.length]!);
  return out;
}

/**
 * The deployer's local driver logs every server it (re)starts as a JSON line with
 * `"msg":"server spawned"`, the pod and its pid (`inferd up` prefixes it with `deployer | `). The
 * line has two "pid" keys, pino's own (the deployer's) first and the server's last; JSON.parse keeps
 * the last one, which is the server's. Returns the pod and pid of such a line, null for any other line.
 */
export function parseSpawnedLine(line: string): { pod: string; pid: number } | null {
  if (!line.includes('"server spawned"')) return null;
  const start = line.indexOf("{");
  if (start < 0) return null;
  try {
    const o = JSON.parse(line.slice(start)) as { msg?: unknown; pod?: unknown; pid?: unknown };
    if (o.msg !== "server spawned" || typeof o.pod !== "string" || typeof o.pid !== "number") return null;
    if (!Number.isInteger(o.pid) || o.pid <= 0) return null;
    return { pod: o.pod, pid: o.pid };
  } catch {
    return null;
  }
}

/**
 * kv-index logs (with the pod) when it finds an engine restarted and clears the engine's blocks
 * ("... engine restarted ...; clearing its entries"). Returns that pod, null for any other line.
 */
export function parseIndexClearedLine(line: string): string | null {
  if (!line.includes("engine restarted") || !line.includes("clearing its entries")) return null;
  const start = line.indexOf("{");
  if (start < 0) return null;
  try {
    const o = JSON.parse(line.slice(start)) as { pod?: unknown };
    return typeof o.pod === "string" ? o.pod : null;
  } catch {
    return null;
  }
}
