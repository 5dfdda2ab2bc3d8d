import { waitFor } from "@inferd/testkit";
import { describe, expect, it } from "vitest";
import { useNats } from "./helpers.ts";

describe("bus - connection", () => {
  const nats = useNats();

  it("reconnects after the nats-server restarts and keeps its subscriptions", async () => {
    const nc = await nats.connect("reconnecting");
    const got: string[] = [];
    const sub = nc.subscribe("ping.>", {
      callback: (_err, m) => {
        got.push(m.subject);
      },
    });
    nc.publish("ping.before");
    await waitFor(() => got.includes("ping.before"));

    await nats.server().restart();
    const publisher = await nats.connect("publisher");
    await waitFor(
      async () => {
        publisher.publish("ping.after");
        await publisher.flush();
        return got.includes("ping.after");
      },
      { timeoutMs: 15_000, intervalMs: 200, message: "a message after the restart" },
    );
    expect(nc.isClosed()).toBe(false);
    sub.unsubscribe();
  });
});
