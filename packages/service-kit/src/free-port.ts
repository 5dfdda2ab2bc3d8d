import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, utimesSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
 * Ports handed out lately, by this process and by every other process on the machine using this
 * module. A caller asks for its ports before its servers bind them (a cluster's client and bus
 * ports; `inferd up` picks every service's port, then starts them one after another), so a probe
 * alone would hand a still-unbound port out twice: within a process, or to another test file
 * running in parallel. A claim is a file created exclusively in a shared directory; it lapses
 * after CLAIM_MS (servers bind within seconds; a stale claim is taken over).
 */
const CLAIM_MS = 2 * 60_000;
const claimedHere = new Map<number, number>();
const CLAIM_DIR = join(tmpdir(), `inferd-free-ports-${process.getuid?.() ?? "user"}`);

function claimFile(port: number): string {
  return join(CLAIM_DIR, String(port));
}

function release(port: number): void {
  claimedHere.delete(port);
  try {
    unlinkSync(claimFile(port));
  } catch {
    // already gone
  }
}

function claim(port: number, now: number): boolean {
  const at = claimedHere.get(port);
  if (at !== undefined && now - at < CLAIM_MS) return false;
  try {
    mkdirSync(CLAIM_DIR, { recursive: true });
    const file = claimFile(port);
    try {
      closeSync(openSync(file, "wx"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (now - statSync(file).mtimeMs < CLAIM_MS) return false;
      utimesSync(file, new Date(now), new Date(now));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === undefined) throw err;
    // No writable temporary directory: the in-process record still holds.
  }
  claimedHere.set(port, now);
  return true;
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
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await canListen(p);
    // Claimed after the probes: a range that turns out busy leaves no claims behind.
    const now = Date.now();
    const claimed: number[] = [];
    for (let p = base; p < base + count && ok; p++) {
      ok = claim(p, now);
      if (ok) claimed.push(p);
    }
    if (ok) return base;
    for (const p of claimed) release(p); // a range half claimed by someone else: give ours back
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
