import { join } from "node:path";
import { freePort, type ManagedProcess, startProcess, waitFor } from "@inferd/testkit";

const SERVICES = join(import.meta.dirname, "../../../services");

export interface Replica {
  readonly name: string;
  /** http://127.0.0.1:<port> (the gateway's API, the scorer's and the autoscaler's ops port). */
  readonly address: string;
  readonly process: ManagedProcess;
}

/**
 * A second replica of a service next to an `inferd up` stack (which runs one of each): same NATS,
 * its own port. Replicas share the work through NATS queue groups (scorer) or a load balancer in
 * front (gateway); resolves when its /readyz answers.
 */
export async function startReplica(
  service: "gateway" | "scorer" | "autoscaler",
  natsUrl: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Replica> {
  const port = await freePort();
  const key = service.toUpperCase();
  const proc = startProcess({
    command: process.execPath,
    args: [join(SERVICES, service, "src", "main.ts")],
    env: {
      ...process.env,
      ...env,
      [`INFERD_${key}_NATS_URL`]: natsUrl,
      [service === "gateway" ? "INFERD_GATEWAY_PORT" : `INFERD_${key}_OPS_PORT`]: String(port),
    },
  });
  const address = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`${service} replica exited: ${proc.output()}`);
      return fetch(`${address}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 60_000, message: `the second ${service} replica to be ready` },
  );
  return { name: `${service}-2`, address, process: proc };
}
