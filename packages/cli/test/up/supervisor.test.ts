import { waitFor } from "@inferd/testkit";
import { describe, expect, it } from "vitest";
import { Supervisor } from "../../src/up/supervisor.ts";

const node = process.execPath;
const forever = ["-e", "console.log('up'); setInterval(() => {}, 1000)"];

describe("cli up - supervisor", () => {
  it("starts components in order, prefixes output, and stops all when one dies", async () => {
    const lines: string[] = [];
    const sup = new Supervisor(["a", "b"], { write: (t) => lines.push(t) });
    let dieNow = false;
    await sup.start({
      name: "a",
      command: node,
      args: forever,
      ready: async () => lines.some((l) => l.startsWith("a    | up")),
    });
    await sup.start({
      name: "b",
      command: node,
      args: [
        "-e",
        "console.log('b started'); process.stdin.resume(); setTimeout(() => process.exit(3), 200)",
      ],
      ready: async () => {
        dieNow = true;
        return true;
      },
    });
    expect(dieNow).toBe(true);
    expect(await sup.stopped).toBe("b exited");
    expect(lines).toContain("b    | exited (code 3)\n");
  });

  it("keeps the rest running when told to continue after a part exits", async () => {
    const lines: string[] = [];
    const sup = new Supervisor(["keep", "dies"], {
      write: (t) => lines.push(t),
      onComponentExit: "continue",
    });
    await sup.start({ name: "keep", command: node, args: forever, ready: async () => true });
    await sup.start({
      name: "dies",
      command: node,
      args: ["-e", "process.exit(4)"],
      ready: async () => true,
    });
    await waitFor(() => lines.includes("dies | exited (code 4)\n"));
    const keepPid = sup.pids().keep!;
    expect(() => process.kill(keepPid, 0)).not.toThrow();
    await sup.stop("done");
  });

  it("stops everything on request, in reverse order", async () => {
    const sup = new Supervisor(["x"], { write: () => undefined });
    await sup.start({ name: "x", command: node, args: forever, ready: async () => true });
    await sup.stop("Ctrl-C");
    expect(await sup.stopped).toBe("Ctrl-C");
  });

  it("fails start when a component is not ready in time", async () => {
    const sup = new Supervisor(["slow"], { write: () => undefined });
    await expect(
      sup.start({
        name: "slow",
        command: node,
        args: forever,
        ready: async () => false,
        readyTimeoutMs: 300,
      }),
    ).rejects.toThrow(/slow was not ready within 300 ms/);
  });

  it("restarts a component that dies, with growing backoff, and logs each restart", async () => {
    const lines: string[] = [];
    const sup = new Supervisor(["flaky"], {
      write: (t) => lines.push(t),
      onComponentExit: "restart",
      backoff: { baseMs: 20, maxMs: 40, stableMs: 60_000 },
    });
    await sup.start({
      name: "flaky",
      command: node,
      args: ["-e", "process.exit(5)"],
      ready: async () => true,
    });
    await waitFor(() => sup.restarts().flaky! >= 3, { timeoutMs: 10_000 });
    await sup.stop("Ctrl-C");
    const restarts = lines.filter((l) => l.includes("restarting in"));
    expect(restarts.slice(0, 3)).toEqual([
      "flaky | restarting in 20 ms (restart 1)\n",
      "flaky | restarting in 40 ms (restart 2)\n",
      "flaky | restarting in 40 ms (restart 3)\n",
    ]);
    expect(lines).toContain("flaky | exited (code 5)\n");
    expect(await sup.stopped).toBe("Ctrl-C");
  });

  it("brings a kill -9'd component back with a new process and keeps the stack up", async () => {
    const lines: string[] = [];
    const sup = new Supervisor(["svc", "peer"], {
      write: (t) => lines.push(t),
      onComponentExit: "restart",
      backoff: { baseMs: 10, maxMs: 100, stableMs: 60_000 },
    });
    await sup.start({ name: "svc", command: node, args: forever, ready: async () => true });
    await sup.start({ name: "peer", command: node, args: forever, ready: async () => true });
    const before = sup.pids();
    process.kill(before.svc!, "SIGKILL");
    await waitFor(() => lines.includes("svc  | ready again after restart 1\n"), { timeoutMs: 10_000 });
    const after = sup.pids();
    expect(after.svc).not.toBe(before.svc);
    expect(() => process.kill(after.svc!, 0)).not.toThrow();
    expect(after.peer).toBe(before.peer);
    expect(lines).toContain("svc  | exited (SIGKILL)\n");
    await sup.stop("Ctrl-C");
    expect(() => process.kill(after.svc!, 0)).toThrow();
  });
});

describe("cli up - supervisor, what a killed part leaves behind", () => {
  it("a child left running by a part killed with SIGKILL is stopped with the stack", async () => {
    const lines: string[] = [];
    const sup = new Supervisor(["parent"], { write: (t) => lines.push(t), onComponentExit: "restart" });
    // A part that starts a child of its own (as the deployer starts model servers) and prints its pid.
    const parent = `const c = require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }); console.log("child " + c.pid); setInterval(() => {}, 1000)`;
    await sup.start({ name: "parent", command: node, args: ["-e", parent], ready: async () => true });
    const childPid = await waitFor(() => {
      const line = lines.find((l) => /child \d+/.test(l));
      return line ? Number(/child (\d+)/.exec(line)![1]) : undefined;
    });
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      process.kill(sup.pids().parent!, "SIGKILL");
      await waitFor(() => lines.some((l) => l.includes("restarting in")), { message: "part restarted" });
      // The orphan keeps running while the stack runs (it may still be serving).
      expect(alive(childPid)).toBe(true);
      await sup.stop("test over");
      await waitFor(() => !alive(childPid), { timeoutMs: 10_000, message: "orphan stopped with the stack" });
    } finally {
      if (alive(childPid)) process.kill(childPid, "SIGKILL");
    }
  }, 60_000);
});
