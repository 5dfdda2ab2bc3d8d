import { describe, expect, test } from "vitest";
import { distinctPorts } from "../../src/up/distinct-ports.ts";

/** Hands out the given ports in order, as an OS reusing just-released ports could. */
function sequence(ports: number[]): () => Promise<number> {
  let i = 0;
  return async () => ports[i++ % ports.length]!;
}

describe("distinct ports", () => {
  test("distinct ports - a port drawn twice or already taken is skipped", async () => {
    const taken = new Set([3000]);
    const got = await distinctPorts(3, sequence([41531, 41531, 3000, 40001, 41531, 40002]), taken);
    expect(got).toEqual([41531, 40001, 40002]);
    expect([...taken].sort()).toEqual([3000, 40001, 40002, 41531]);
    // Later draws (a replica's port) avoid everything handed out before.
    expect(await distinctPorts(1, sequence([40001, 41531, 40003]), taken)).toEqual([40003]);
  });

  test("distinct ports - gives up when the draws never yield enough distinct ports", async () => {
    await expect(distinctPorts(2, sequence([5000]), new Set(), 50)).rejects.toThrow(/2 distinct free ports/);
  });
});
