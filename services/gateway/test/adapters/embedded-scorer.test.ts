import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { embeddedScorerConfig } from "../../src/adapters/embedded-scorer.ts";
import { gatewayConfigSpec } from "../../src/config.ts";

/** The gateway's config with its defaults and the given values. */
function gateway(values: Record<string, unknown>) {
  const defaults = Object.fromEntries(Object.entries(gatewayConfigSpec).map(([k, f]) => [k, f.default]));
  return { ...defaults, ...values } as Parameters<typeof embeddedScorerConfig>[0];
}

describe("gateway - embedded scorer config", () => {
  it("takes the gateway's NATS link and prefix unless the scorer's file or environment sets them", () => {
    const gw = gateway({ natsUrl: "nats://10.0.0.1:4222", subjectPrefix: "blue", natsUser: "gw" });
    const plain = embeddedScorerConfig(gw, {});
    expect(plain).toMatchObject({ natsUrl: "nats://10.0.0.1:4222", subjectPrefix: "blue", natsUser: "gw" });
    expect(plain.profile).toBe("default");

    const file = join(tmpdir(), `embedded-scorer-${process.pid}.yaml`);
    writeFileSync(file, "subjectPrefix: green\nprofile: least-load\n");
    const fromFile = embeddedScorerConfig({ ...gw, scorerConfig: file }, {});
    expect(fromFile).toMatchObject({
      natsUrl: "nats://10.0.0.1:4222",
      subjectPrefix: "green",
      profile: "least-load",
    });

    const fromEnv = embeddedScorerConfig(
      { ...gw, scorerConfig: file },
      { INFERD_SCORER_PROFILE: "round-robin", INFERD_SCORER_NATS_URL: "nats://10.0.0.2:4222" },
    );
    expect(fromEnv).toMatchObject({ natsUrl: "nats://10.0.0.2:4222", profile: "round-robin" });
  });

  it("rejects a bad scorer key with the scorer's own line", () => {
    expect(() =>
      embeddedScorerConfig(gateway({ natsUrl: "nats://x:4222" }), { INFERD_SCORER_PROFILE: "nope" }),
    ).toThrow(/invalid scorer configuration:\n\s+INFERD_SCORER_PROFILE: /);
    const file = join(tmpdir(), `embedded-scorer-bad-${process.pid}.yaml`);
    writeFileSync(file, "scrapeIntervalMz: 10\n");
    expect(() => embeddedScorerConfig(gateway({ scorerConfig: file }), {})).toThrow(
      /unknown key "scrapeIntervalMz"/,
    );
  });
});
