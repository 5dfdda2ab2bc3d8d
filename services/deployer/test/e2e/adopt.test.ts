import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, type EndpointInventory, type NatsConnection, watchEndpoints } from "@inferd/bus";
import { type Endpoint, EndpointState } from "@inferd/protocol";
import {
  freePort,
  type ManagedProcess,
  type NatsServerHandle,
  startNats,
  startProcess,
  waitFor,
} from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDriverState, parseProcStat, type ServerRecord } from "../../src/domain/server-record.ts";
import { MODEL, publishDecision } from "./helpers.ts";

/**
 * Adoption across a real kill -9: the deployer runs as its own process (as `inferd up` runs it),
 * its model-sims are real processes, the inventory is a real nats-server's bucket.
 */
const MAIN = join(import.meta.dirname, "..", "..", "src", "main.ts");

let nats: NatsServerHandle;
let nc: NatsConnection;
let inv: EndpointInventory;
/** Every inventory change since the start, in order. */
const history: { key: string; state: EndpointState | "deleted"; pod: string }[] = [];
/** Server pids the tests saw, killed at the end whatever happened. */
const seenPids = new Set<number>();

beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats({ servers: nats.url, name: "deployer-adopt-e2e" });
  inv = await watchEndpoints(nc, {
    onChange: (key, ep) =>
      history.push({ key, state: ep ? ep.state : "deleted", pod: ep?.pod ?? key.split(".").pop()! }),
  });
});
afterAll(async () => {
  for (const pid of seenPids) signal(pid, "SIGKILL");
  inv?.stop();
  await nc?.close();
  await nats?.dispose();
});

interface Deployer {
  proc: ManagedProcess;
  ops: string;
}

async function startDeployer(
  pool: string,
  stateDir: string,
  extra: Record<string, string> = {},
): Promise<Deployer> {
  const opsPort = await freePort();
  const proc = startProcess({
    command: process.execPath,
    args: [MAIN],
    env: {
      ...process.env,
      INFERD_DEPLOYER_NATS_URL: nats.url,
      INFERD_DEPLOYER_OPS_PORT: String(opsPort),
      INFERD_DEPLOYER_SIM_PROFILE: "tiny-fast",
      INFERD_DEPLOYER_HEALTH_INTERVAL_MS: "50",
      INFERD_DEPLOYER_DRAIN_SETTLE_MS: "200",
      INFERD_DEPLOYER_DURABLE_NAME: `adopt-${pool}`,
      INFERD_DEPLOYER_STATE_DIR: stateDir,
      INFERD_DEPLOYER_POOLS: JSON.stringify([
        { name: pool, model: MODEL, replicas: 2, minReplicas: 0, maxReplicas: 3 },
      ]),
      ...extra,
    },
  });
  const ops = `http://127.0.0.1:${opsPort}`;
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`deployer exited: ${proc.output().slice(-3000)}`);
      return fetch(`${ops}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 90_000, message: "the deployer serving /readyz" },
  );
  return { proc, ops };
}

const ready = (pool: string): Endpoint[] =>
  [...inv.endpoints.values()].filter((e) => e.pool === pool && e.state === EndpointState.READY);

/** The recorded servers, by pod. */
function recorded(stateDir: string): readonly ServerRecord[] {
  const servers = [
    ...parseDriverState(readFileSync(join(stateDir, "local-servers.json"), "utf8")).servers,
  ].sort((a, b) => a.pod.localeCompare(b.pod));
  for (const s of servers) seenPids.add(s.process.pid);
  return servers;
}

/** A pid's process as /proc shows it: its parent, state and start time; undefined once reaped. */
function proc(pid: number): { ppid: number; state: string; startTime: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const parsed = parseProcStat(text)!;
    const ppid = Number(
      text
        .slice(text.lastIndexOf(")") + 1)
        .trim()
        .split(/\s+/)[1],
    );
    return { ppid, ...parsed };
  } catch {
    return undefined;
  }
}

const alive = (pid: number) => {
  const p = proc(pid);
  return p !== undefined && p.state !== "Z";
};

function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => proc(p)?.ppid === pid && alive(p));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const podsOf = (servers: readonly ServerRecord[]) => servers.map((s) => s.pod).sort();
const changesOf = (pods: readonly string[], since: number) =>
  history.slice(since).filter((h) => pods.includes(h.pod));

describe("deployer (local driver) - adoption after kill -9", () => {
  it("adopt - the restarted deployer adopts its running servers: same pids, no new server, no inventory change", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "inferd-adopt-"));
    let first: Deployer | undefined;
    let second: Deployer | undefined;
    try {
      first = await startDeployer("adopt", stateDir);
      await waitFor(() => ready("adopt").length === 2, { timeoutMs: 60_000, message: "2 servers ready" });
      const before = recorded(stateDir);
      expect(podsOf(before)).toEqual(["adopt-1", "adopt-2"]);
      for (const s of before) expect(proc(s.process.pid)?.ppid).toBe(first.proc.child.pid);

      const mark = history.length;
      await first.proc.kill();
      // The orphans keep serving.
      for (const s of before) expect(alive(s.process.pid)).toBe(true);

      second = await startDeployer("adopt", stateDir);
      const secondPid = second.proc.child.pid!;
      const after = recorded(stateDir);
      expect(after.map((s) => s.process)).toEqual(before.map((s) => s.process));
      expect(childrenOf(secondPid), "no server started by the restarted deployer").toEqual([]);
      expect(second.proc.output()).toContain('"msg":"server adopted"');

      // A decision after the restart: its server is the pool's third (the adopted two count),
      // and once it is in the inventory every earlier write of the new deployer has landed too.
      await publishDecision(nc, "adopt", 3);
      await waitFor(() => ready("adopt").length === 3, { timeoutMs: 60_000, message: "third server ready" });
      expect(childrenOf(secondPid)).toHaveLength(1);
      expect(
        ready("adopt")
          .map((e) => e.pod)
          .sort(),
      ).toEqual(["adopt-1", "adopt-2", "adopt-3"]);
      expect(changesOf(podsOf(before), mark), "the adopted servers' records were not touched").toEqual([]);

      // An adopted server serves requests, and is restarted like a child when it dies.
      const adopted = ready("adopt").find((e) => e.pod === "adopt-1")!;
      const res = await fetch(`${adopted.address}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, prompt: "hello", max_tokens: 4 }),
      });
      expect(res.status).toBe(200);
      await res.body?.cancel();
      const crashMark = history.length;
      signal(before[0]!.process.pid, "SIGKILL");
      await waitFor(
        () => {
          const states = changesOf(["adopt-1"], crashMark).map((h) => h.state);
          return states.includes(EndpointState.UNHEALTHY) && states.at(-1) === EndpointState.READY;
        },
        { timeoutMs: 60_000, message: "the adopted server's death seen and a new one ready on the same pod" },
      );
      const restarted = recorded(stateDir).find((s) => s.pod === "adopt-1")!;
      expect(restarted.process.pid).not.toBe(before[0]!.process.pid);
      expect(proc(restarted.process.pid)?.ppid).toBe(secondPid);
      expect(restarted.port).toBe(before[0]!.port);

      // A clean stop stops adopted servers too (by pid) and clears the records.
      const pids = recorded(stateDir).map((s) => s.process.pid);
      await second.proc.stop(60_000);
      for (const pid of pids) expect(alive(pid), `server ${pid} stopped`).toBe(false);
      await waitFor(() => [...inv.endpoints.values()].every((e) => e.pool !== "adopt"), {
        timeoutMs: 10_000,
        message: "records cleared",
      });
      expect(recorded(stateDir)).toEqual([]);
    } finally {
      await first?.proc.kill();
      await second?.proc.kill();
    }
  }, 240_000);

  it("adopt - a reused pid is neither adopted nor signalled, a hung server is killed, both are replaced", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "inferd-adopt-"));
    const unrelated = spawn("sleep", ["600"], { stdio: "ignore" });
    let first: Deployer | undefined;
    let second: Deployer | undefined;
    try {
      first = await startDeployer("hung", stateDir);
      await waitFor(() => ready("hung").length === 2, { timeoutMs: 60_000, message: "2 servers ready" });
      const [hung, gone] = recorded(stateDir);
      // Recorded as serving (a server recorded still starting would be left to load instead).
      expect([hung!.state, gone!.state]).toEqual(["ready", "ready"]);
      await first.proc.kill();

      // One server hangs (stopped: it accepts connections and never answers); the other dies and
      // its pid goes to an unrelated process: the record keeps the dead server's start time.
      signal(hung!.process.pid, "SIGSTOP");
      signal(gone!.process.pid, "SIGKILL");
      await waitFor(() => !alive(gone!.process.pid), { timeoutMs: 10_000, message: "server dead" });
      const file = join(stateDir, "local-servers.json");
      const state = JSON.parse(readFileSync(file, "utf8"));
      state.servers.find((r: ServerRecord) => r.pod === gone!.pod).process.pid = unrelated.pid;
      writeFileSync(file, JSON.stringify(state));

      const mark = history.length;
      second = await startDeployer("hung", stateDir, { INFERD_DEPLOYER_ADOPT_TIMEOUT_MS: "2000" });
      const out = second.proc.output();
      expect(out).toMatch(/"reason":"unhealthy".*"msg":"server not-adopted"/);
      expect(out).toMatch(/"reason":"foreign".*"msg":"server not-adopted"/);
      expect(alive(hung!.process.pid), "the hung server was killed").toBe(false);
      expect(alive(unrelated.pid!), "the unrelated process was left alone").toBe(true);
      expect(unrelated.exitCode).toBeNull();

      // Replaced under new names; the old records deleted, not left behind.
      await waitFor(
        () =>
          ready("hung")
            .map((e) => e.pod)
            .sort()
            .join() === "hung-3,hung-4",
        {
          timeoutMs: 60_000,
          message: `the replacements alone in the inventory (${ready("hung").map((e) => e.pod)})`,
        },
      );
      await waitFor(
        () => ["hung-1", "hung-2"].every((pod) => changesOf([pod], mark).some((h) => h.state === "deleted")),
        { timeoutMs: 30_000, message: "the old records deleted" },
      );
      const now = recorded(stateDir);
      expect(podsOf(now)).toEqual(["hung-3", "hung-4"]);
      for (const s of now) expect(proc(s.process.pid)?.ppid).toBe(second.proc.child.pid);
    } finally {
      unrelated.kill("SIGKILL");
      await first?.proc.kill();
      await second?.proc.stop(30_000);
    }
  }, 240_000);

  it("adopt - a second deployer on a state directory in use refuses to start", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "inferd-adopt-"));
    let first: Deployer | undefined;
    try {
      first = await startDeployer("twice", stateDir, {
        INFERD_DEPLOYER_POOLS: JSON.stringify([{ name: "twice", model: MODEL, replicas: 0 }]),
      });
      const other = startProcess({
        command: process.execPath,
        args: [MAIN],
        env: {
          ...process.env,
          INFERD_DEPLOYER_NATS_URL: nats.url,
          INFERD_DEPLOYER_OPS_PORT: "0",
          INFERD_DEPLOYER_STATE_DIR: stateDir,
          INFERD_DEPLOYER_POOLS: JSON.stringify([{ name: "twice", model: MODEL, replicas: 0 }]),
        },
      });
      expect(await other.exited).not.toBe(0);
      expect(other.output()).toContain(`belongs to a running deployer (pid ${first.proc.child.pid})`);
    } finally {
      await first?.proc.stop();
    }
  }, 120_000);
});
