import { type NatsConnection, watchEndpoints } from "@inferd/bus";
import type { SimServerPlan } from "./stack-plan.ts";

/**
 * Waits until the deployer has `count` ready servers of `model` in INFERD_ENDPOINTS and returns
 * them as the banner and the ready line show simulators (pod, address, KV endpoints).
 */
export async function waitForDeployedSims(
  nc: NatsConnection,
  model: string,
  count: number,
  timeoutMs: number,
): Promise<SimServerPlan[]> {
  const ready = () => [...inventory.endpoints.values()].filter((e) => e.model === model && e.ready);
  let wake: () => void = () => undefined;
  const inventory = await watchEndpoints(nc, { onChange: () => wake() });
  try {
    await inventory.initialized;
    const deadline = Date.now() + timeoutMs;
    while (ready().length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`the deployer has ${ready().length} of ${count} servers ready after ${timeoutMs} ms`);
      // Woken by the next inventory change, or by the deadline.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return ready()
      .sort((a, b) => a.pod.localeCompare(b.pod))
      .map((e) => {
        const port = Number(new URL(e.address).port);
        const portOf = (tcp: string) => Number(tcp.split(":").at(-1) ?? 0);
        return {
          pod: e.pod,
          httpPort: port,
          eventsPort: portOf(e.kvEventsEndpoint),
          replayPort: portOf(e.kvReplayEndpoint),
          address: e.address,
          kvEventsEndpoint: e.kvEventsEndpoint,
          kvReplayEndpoint: e.kvReplayEndpoint,
        };
      });
  } finally {
    inventory.stop();
  }
}
