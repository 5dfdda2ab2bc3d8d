import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Where free ports are searched: above the well-known and registered-by-habit ports. */
const SEARCH_FLOOR = 15_000;

/**
 * The first port the kernel may hand out as the local port of an outgoing connection
 * (Linux: /proc/sys/net/ipv4/ip_local_port_range; 32768 by default and elsewhere).
 *
 * Test servers are stopped and started again on the same port (restart tests, chaos). A port
 * taken from the ephemeral range can meanwhile become the local port of some client connection
 * of another test file, and the restarted server then fails to bind it. Ports below the range are
 * never handed out that way, so only another deliberate listener can take them.
 */
function ephemeralFloor(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > SEARCH_FLOOR + 1_000) return low;
  } catch {
    // Not Linux: the IANA dynamic range starts at 49152; 32768 is below it and Linux's default.
  }
  return 32_768;
}

/**
 * Ports this process handed out lately. A caller usually asks for several ports before the first
 * server binds its own (a cluster's client and bus ports), so a probe alone would hand the same
 * still-unbound port out twice.
 */
const handedOut = new Map<number, number>();
const HANDED_OUT_MS = 10 * 60_000;

function recentlyHandedOut(port: number, now: number): boolean {
  const at = handedOut.get(port);
  return at !== undefined && now - at < HANDED_OUT_MS;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function osPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the port of a probe socket"));
      });
    });
  });
}

/**
 * The first of `count` consecutive ports on 127.0.0.1 that were free a moment ago, below the
 * ephemeral range (see ephemeralFloor), from a random start so parallel test files rarely collide.
 */
export async function freePortRange(count: number): Promise<number> {
  const ceiling = ephemeralFloor();
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = SEARCH_FLOOR + Math.floor(Math.random() * (ceiling - SEARCH_FLOOR - count));
    const now = Date.now();
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = !recentlyHandedOut(p, now) && (await canListen(p));
    if (ok) {
      for (let p = base; p < base + count; p++) handedOut.set(p, now);
      return base;
    }
  }
  throw new Error(`no range of ${count} consecutive free ports found below ${ceiling}`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago, below the ephemeral range when one is free there. */
export async function freePort(): Promise<number> {
  try {
    return await freePortRange(1);
  } catch {
    return osPickedPort();
  }
}
