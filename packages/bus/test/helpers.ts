import { type NatsServerHandle, startNats } from "@inferd/testkit";
import { afterAll, beforeAll } from "vitest";
import { connectNats, type NatsConnection } from "../src/index.ts";

/** One real nats-server (JetStream on) for a test file; connections are closed after it. */
export function useNats(): {
  server: () => NatsServerHandle;
  connect: (name?: string) => Promise<NatsConnection>;
} {
  let server: NatsServerHandle | undefined;
  const connections: NatsConnection[] = [];
  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await server?.dispose();
  });
  return {
    server: () => server!,
    connect: async (name = "test") => {
      const nc = await connectNats({ servers: server!.url, name });
      connections.push(nc);
      return nc;
    },
  };
}
