import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { connectNats, openKv, putEndpoint } from "@inferd/bus";
import { BUCKETS, EndpointSchema, make } from "@inferd/protocol";
import { freePort, startNats, startRedis, waitFor } from "@inferd/testkit";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "./helm.ts";

const run = promisify(execFile);
const IMAGE = "inferd:test";
const MODEL = "Qwen/Qwen3-32B";

async function docker(args: string[], timeout = 120_000): Promise<string> {
  return (await run("docker", args, { maxBuffer: 64 * 1024 * 1024, timeout })).stdout.trim();
}

/**
 * The inferd image, built with the real Docker engine from the local Debian + Node base, runs the
 * gateway, scorer, kv-index and a simulated model server as containers on the host network
 * (non-root, read-only root filesystem), serves a request, and stops cleanly on SIGTERM.
 */
describe("deploy - the container image on a real Docker engine", () => {
  const containers: string[] = [];
  let nats: Awaited<ReturnType<typeof startNats>>;
  let redis: Awaited<ReturnType<typeof startRedis>>;

  beforeAll(async () => {
    const started = Date.now();
    const base = (
      await run("bash", [`${REPO}/deploy/image/base-image.sh`], { timeout: 600_000 })
    ).stdout.trim();
    await docker(
      [
        "build",
        "--network",
        "host",
        "-f",
        "deploy/image/Dockerfile",
        "--build-arg",
        `BASE_IMAGE=${base}`,
        "-t",
        IMAGE,
        REPO,
      ],
      900_000,
    );
    const size = Number(await docker(["image", "inspect", IMAGE, "--format", "{{.Size}}"]));
    console.log(`[image] built in ${Date.now() - started} ms, ${(size / 1e6).toFixed(0)} MB`);
    nats = await startNats();
    redis = await startRedis();
  }, 1_200_000);

  afterAll(async () => {
    for (const id of containers) await docker(["rm", "-f", id]).catch(() => undefined);
    // Each rebuild leaves the previous build's layers untagged; keep the engine's disk bounded.
    await docker(["image", "prune", "-f"]).catch(() => undefined);
    await nats?.dispose();
    await redis?.dispose();
  });

  async function start(name: string, args: string[], env: Record<string, string>): Promise<string> {
    const id = await docker([
      "run",
      "-d",
      "--network",
      "host",
      "--read-only",
      "--tmpfs",
      "/tmp",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--name",
      `inferd-test-${name}-${process.pid}`,
      ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
      IMAGE,
      ...args,
    ]);
    containers.push(id);
    return id;
  }

  it("runs non-root and serves a chat completion through gateway, scorer and kv-index containers", async () => {
    expect(await docker(["image", "inspect", IMAGE, "--format", "{{.Config.User}}"])).toBe("10001:10001");
    const [simPort, gatewayPort, scorerPort, kvPort, zmqPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    await start("sim", ["sim", "--port", String(simPort), "--profile", "tiny-fast", "--model", MODEL], {});
    await start("kv-index", ["kv-index"], {
      INFERD_KV_INDEX_NATS_URL: nats.url,
      INFERD_KV_INDEX_REDIS_URL: redis.url,
      INFERD_KV_INDEX_HTTP_PORT: String(kvPort),
      INFERD_KV_INDEX_ZMQ_BIND_ENDPOINT: `tcp://127.0.0.1:${zmqPort}`,
    });
    await start("scorer", ["scorer"], {
      INFERD_SCORER_NATS_URL: nats.url,
      INFERD_SCORER_OPS_PORT: String(scorerPort),
    });
    const gateway = await start("gateway", ["gateway"], {
      INFERD_GATEWAY_NATS_URL: nats.url,
      INFERD_GATEWAY_PORT: String(gatewayPort),
    });
    // The simulated server joins the inventory the scorer and the gateway watch, as a deployer would.
    const nc = await connectNats({ servers: nats.url, name: "image-test" });
    await putEndpoint(
      await openKv(nc, BUCKETS.endpoints),
      make(EndpointSchema, {
        model: MODEL,
        pod: "sim-0",
        address: `http://127.0.0.1:${simPort}`,
        ready: true,
      }),
    );
    const ready = { gateway: gatewayPort, scorer: scorerPort, "kv-index": kvPort };
    for (const [name, port] of Object.entries(ready)) {
      try {
        await waitFor(async () => (await request(`http://127.0.0.1:${port}/readyz`)).statusCode === 200, {
          timeoutMs: 90_000,
          intervalMs: 500,
          message: `the ${name} container on :${port} to be ready`,
        });
      } catch (err) {
        const logs = await run("docker", [
          "logs",
          "--tail",
          "40",
          `inferd-test-${name}-${process.pid}`,
        ]).catch((e: { stdout?: string; stderr?: string }) => e);
        throw new Error(`${(err as Error).message}\n${logs.stdout ?? ""}${logs.stderr ?? ""}`);
      }
    }
    const res = await request(`http://127.0.0.1:${gatewayPort}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hello" }], max_tokens: 4 }),
    });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { choices: unknown[] }).choices).toHaveLength(1);
    await nc.close();

    // SIGTERM reaches Node through the CLI: the gateway drains and exits 0 within the grace period
    // (had it ignored the signal, the engine's SIGKILL after 20 s would leave exit code 137).
    await docker(["stop", "--time", "20", gateway]);
    expect(await docker(["inspect", gateway, "--format", "{{.State.ExitCode}}"])).toBe("0");
  }, 300_000);
});
