import { describe, expect, it } from "vitest";
import { loadConfig, redisLinkFields, redisLinkOf } from "../../src/index.ts";

const SPEC = redisLinkFields({ urlDefault: "", urlDoc: "the index" });
const load = (env: Record<string, string>) => loadConfig("svc", SPEC, { env });

describe("service-kit - redisLinkFields (kv-index's Redis keys, shared with the scorer)", () => {
  it("no URL and no cluster: no link", () => {
    expect(redisLinkOf(load({}))).toBeUndefined();
  });

  it("standalone with a password from a file; cluster seeds with an ACL user and TLS", () => {
    const files: Record<string, string> = { "/pw": "s3cret\n", "/ca": "CA" };
    const read = (p: string) => Buffer.from(files[p]!);
    expect(
      redisLinkOf(
        load({ INFERD_SVC_REDIS_URL: "redis://r:6379", INFERD_SVC_REDIS_PASSWORD_FILE: "/pw" }),
        read,
      ),
    ).toEqual({ redisUrl: "redis://r:6379", redisClusterNodes: [], credentials: { password: "s3cret" } });
    expect(
      redisLinkOf(
        load({
          INFERD_SVC_REDIS_CLUSTER_NODES: "a:7000, b:7001",
          INFERD_SVC_REDIS_USERNAME: "kvi",
          INFERD_SVC_REDIS_PASSWORD: "pw",
          INFERD_SVC_REDIS_TLS_CA_FILE: "/ca",
        }),
        read,
      ),
    ).toEqual({
      redisUrl: "",
      redisClusterNodes: ["a:7000", "b:7001"],
      credentials: { username: "kvi", password: "pw", tls: { ca: Buffer.from("CA") } },
    });
  });
});
