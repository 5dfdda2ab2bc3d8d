import { join } from "node:path";
import { freePort, type ManagedProcess, startProcess, waitFor } from "@inferd/testkit";

/**
 * A model-sim server as a child process (services never import each other, so the gateway's
 * tests start the simulator the way a user would: `node services/model-sim/src/main.ts`).
 */
export interface SimServer {
  pod: string;
  address: string;
  port: number;
  process: ManagedProcess;
}

const MAIN = join(import.meta.dirname, "..", "..", "model-sim", "src", "main.ts");

export async function startSim(pod: string, extraArgs: string[] = []): Promise<SimServer> {
  const port = await freePort();
  const proc = startProcess({
    command: process.execPath,
    args: [
      MAIN,
      "--port",
      String(port),
      "--pod-name",
      pod,
      "--profile",
      "tiny-fast",
      "--log-level",
      "warn",
      ...extraArgs,
    ],
    env: { ...process.env, PYTHONHASHSEED: "0" },
  });
  // The caller registers cleanup (afterAll or onTestFinished); a failed start kills it here.
  const address = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`model-sim exited: ${proc.output()}`);
      return (await fetch(`${address}/health`)).ok;
    },
    // Loading the tokenizer takes seconds; under a full parallel suite on 2 cores it took > 20 s.
    { timeoutMs: 60_000, message: `model-sim ${pod} on ${port}` },
  ).catch(async (err) => {
    await proc.kill();
    throw err;
  });
  return { pod, address, port, process: proc };
}
