import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EndpointState } from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { endpointToReplica, replicaFingerprint, replicaToEndpoint } from "../../src/domain/endpoint.ts";
import type { Replica } from "../../src/domain/replica.ts";
import {
  type DriverState,
  EMPTY_STATE,
  judgeRecord,
  parseDriverState,
  parseProcStat,
  podNumber,
  type ServerRecord,
  serializeDriverState,
} from "../../src/domain/server-record.ts";
import { adoptedServer } from "../../src/drivers/local/server-process.ts";
import { observeProcess, StateFile, selfIdentity } from "../../src/drivers/local/server-state.ts";

const identity = { pid: 4242, startTime: "123456", bootId: "b00t" };
const record: ServerRecord = {
  pool: "p",
  pod: "p-7",
  process: identity,
  port: 8000,
  kvEventsPort: 8001,
  kvReplayPort: 8002,
  argv: ["node", "sim.ts", "--port", "8000"],
  spawnedAt: 1_700_000_000_000,
  state: "ready",
};

describe("local driver records", () => {
  it("records - /proc/<pid>/stat: state and start time, whatever the command name holds", () => {
    const tail = "S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21";
    expect(parseProcStat(`4242 (node) ${tail}`)).toEqual({ state: "S", startTime: "987654" });
    // A name may hold spaces and parentheses: fields are counted from the last ")".
    expect(parseProcStat(`4242 (a) b (c)) ${tail}`)).toEqual({ state: "S", startTime: "987654" });
    expect(parseProcStat("4242 (node) Z 1 2")).toBeUndefined();
    expect(parseProcStat("garbage")).toBeUndefined();
  });

  it("records - verdicts: the same process with the same command is probed; anything else is not adopted", () => {
    const live = { ...identity, zombie: false };
    expect(judgeRecord(record, live, record.argv)).toBe("probe");
    expect(judgeRecord(record, undefined, record.argv)).toBe("dead");
    expect(judgeRecord(record, { ...live, zombie: true }, record.argv)).toBe("dead");
    // A reused pid (another start time) or another boot: never ours, never signalled.
    expect(judgeRecord(record, { ...live, startTime: "999" }, record.argv)).toBe("foreign");
    expect(judgeRecord(record, { ...live, bootId: "other" }, record.argv)).toBe("foreign");
    // Ours, but its pool is gone or it would be started differently today: stopped.
    expect(judgeRecord(record, live, undefined)).toBe("kill");
    expect(judgeRecord(record, live, [...record.argv, "--extra"])).toBe("kill");
  });

  it("records - pod numbers", () => {
    expect(podNumber("p", "p-7")).toBe(7);
    expect(podNumber("p", "q-7")).toBe(0);
    expect(podNumber("p", "p-x")).toBe(0);
    expect(podNumber("a-b", "a-b-3")).toBe(3);
  });

  it("records - the state round-trips; a corrupt file is refused with the reason", () => {
    const state: DriverState = { owner: identity, servers: [record], seq: { p: 7 }, desired: { p: 2 } };
    expect(parseDriverState(serializeDriverState(state))).toEqual(state);
    expect(parseDriverState(serializeDriverState(EMPTY_STATE))).toEqual(EMPTY_STATE);
    expect(() => parseDriverState("{}")).toThrow(/version 1/);
    expect(() =>
      parseDriverState(JSON.stringify({ version: 1, servers: [{ ...record, port: "x" }] })),
    ).toThrow(/servers\[0\]\.port/);
    expect(() => parseDriverState("{")).toThrow();
    // Whatever the bytes, parsing answers a state or throws an Error: never anything else.
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseDriverState(text);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("records - an inventory record maps back to the replica it was written from", () => {
    const r: Replica = {
      pool: "p",
      model: "m",
      pod: "p-1",
      address: "http://127.0.0.1:1",
      state: "draining",
      role: "decode",
      loraAdapters: ["a"],
      kvEventsEndpoint: "tcp://127.0.0.1:2",
      kvReplayEndpoint: "tcp://127.0.0.1:3",
      blockSize: 16,
      labels: { x: "y" },
    };
    const e = replicaToEndpoint(r, "inferd-deployer-local");
    expect(e.state).toBe(EndpointState.DRAINING);
    expect(endpointToReplica(e)).toEqual(r);
    expect(replicaFingerprint(endpointToReplica(e))).toBe(replicaFingerprint(r));
  });

  it("records - the state file is replaced whole (temp file + rename) and read back", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "inferd-state-")), "nested");
    const file = new StateFile(dir);
    expect(file.read()).toEqual(EMPTY_STATE);
    const state: DriverState = { owner: identity, servers: [record], seq: { p: 7 }, desired: {} };
    file.write(state);
    expect(file.read()).toEqual(state);
    expect(readdirSync(dir)).toEqual(["local-servers.json"]);
    writeFileSync(file.path, "not json");
    expect(() => file.read()).toThrow(/local-servers\.json.*move it away/);
  });

  it("records - a process is known by pid, start time and boot; an adopted one is seen to exit", async () => {
    const me = selfIdentity()!;
    expect(me.pid).toBe(process.pid);
    expect(observeProcess(process.pid)).toEqual({ ...me, zombie: false });
    const child = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      const seen = observeProcess(child.pid!)!;
      expect(seen.zombie).toBe(false);
      // The same pid with another start time is another process: signalling it is refused.
      const impostor = adoptedServer({ ...seen, startTime: `${Number(seen.startTime) + 1}` }, 20);
      impostor.kill("SIGKILL");
      expect(await impostor.exited).toEqual({ code: null, signal: null });
      expect(child.exitCode).toBeNull();
      expect(observeProcess(child.pid!)?.zombie).toBe(false);
      // The real one: killed by pid, its exit noticed without being its parent's 'exit' event.
      const adopted = adoptedServer(seen, 20);
      adopted.kill("SIGKILL");
      await adopted.exited;
      await waitFor(() => child.signalCode === "SIGKILL", { timeoutMs: 10_000 });
    } finally {
      child.kill("SIGKILL");
    }
  });
});
