/**
 * `--ports auto` asks the OS for a free port once per component; the OS may hand the same
 * just-released port out twice (seen: gateway and scorer both on one port, the gateway then failing
 * with EADDRINUSE). Draws until `count` ports are found that were neither drawn before nor `taken`.
 */
export async function distinctPorts(
  count: number,
  draw: () => Promise<number>,
  taken: Set<number>,
  maxDraws = 1000,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i >= maxDraws) throw new Error(`no ${count} distinct free ports after ${maxDraws} draws`);
    const p = await draw();
    if (taken.has(p)) continue;
    taken.add(p);
    out.push(p);
  }
  return out;
}
