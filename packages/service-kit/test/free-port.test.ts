import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { freePort, freePortRange } from "../src/free-port.ts";

const ephemeralLow = Number(
  readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
);

function listen(port: number): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(() => new Promise((r) => server.close(() => r()))));
  });
}

describe("service-kit - free ports below the ephemeral range", () => {
  it("freePort gives a port an outgoing connection can never be handed, and it can be bound", async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(15_000);
      expect(port).toBeLessThan(ephemeralLow);
      ports.add(port);
    }
    // Random starts: parallel callers rarely meet.
    expect(ports.size).toBeGreaterThan(15);
    const close = await listen([...ports][0]!);
    await close();
  });

  it("never hands the same port out twice in a process, bound or not (a cluster's ports are asked for before any binds)", async () => {
    // 300 random picks from ~17k ports would repeat one ~92 % of the time without the claims.
    const ports = new Set<number>();
    for (let i = 0; i < 300; i++) ports.add(await freePort());
    expect(ports.size).toBe(300);
    const a = await freePortRange(20);
    const b = await freePortRange(20);
    expect(a + 20 <= b || b + 20 <= a).toBe(true);
  });

  it("never hands another process a port this one was handed (parallel test files, inferd up starting its services)", async () => {
    const mine = new Set<number>();
    for (let i = 0; i < 250; i++) mine.add(await freePort());
    const module = new URL("../src/free-port.ts", import.meta.url).pathname;
    const script = `const { freePort } = await import(${JSON.stringify(module)});
      const ports = []; for (let i = 0; i < 250; i++) ports.push(await freePort());
      console.log(JSON.stringify(ports));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
    const theirs = JSON.parse(stdout) as number[];
    // 250 + 250 random picks from ~17k ports would share ~3.5 (none only ~3 % of the time) without the claims.
    expect(theirs.filter((p) => mine.has(p))).toEqual([]);
  });

  it("freePortRange gives consecutive bindable ports, all below the range", async () => {
    const base = await freePortRange(8);
    expect(base + 8).toBeLessThanOrEqual(ephemeralLow);
    const closers = [];
    for (let p = base; p < base + 8; p++) closers.push(await listen(p));
    await Promise.all(closers.map((c) => c()));
  });
});
