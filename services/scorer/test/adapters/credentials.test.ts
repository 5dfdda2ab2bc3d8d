import { connectNats, serviceClient } from "@inferd/bus";
import { make, PickRequestSchema, PickResponseSchema, subjects } from "@inferd/protocol";
import { startNats } from "@inferd/testkit";
import { describe, expect, it, onTestFinished } from "vitest";
import { runScorer } from "../../src/run.ts";
import { quietLogger, testConfig } from "./helpers.ts";

describe("scorer - NATS credentials from its config keys", () => {
  it("serves picks on a NATS that requires a token (natsToken)", async () => {
    const nats = await startNats({ extraArgs: ["--auth", "scorer-token"] });
    onTestFinished(() => nats.dispose());
    const scorer = await runScorer(
      testConfig(nats.url, { natsToken: "scorer-token", profile: "least-load" }),
      {
        logger: quietLogger(),
      },
    );
    onTestFinished(() => scorer.stop());
    const nc = await connectNats({
      servers: nats.url,
      name: "client",
      credentials: { token: "scorer-token" },
    });
    onTestFinished(() => nc.close());
    const client = serviceClient(nc, subjects().schedPick(), PickRequestSchema, PickResponseSchema);
    const res = await client.call(make(PickRequestSchema, { model: "m", requestId: "r1" }), {
      timeoutMs: 5_000,
    });
    expect(res).toBeDefined();
  });
});
