import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type KubeControlPlane, startKubeControlPlane } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CHART, helm } from "./helm.ts";

const run = promisify(execFile);

function valuesFile(values: object): string {
  const file = join(mkdtempSync(join(tmpdir(), "inferd-install-")), "values.yaml");
  writeFileSync(file, stringify(values));
  return file;
}

/**
 * The chart installed with `helm install` into a real kube-apiserver (kwok makes the Pods Ready):
 * server-side validation and admission see what `helm template` cannot.
 */
describe("deploy - helm install into a real API server", () => {
  let cluster: KubeControlPlane;
  // biome-ignore lint/suspicious/noExplicitAny: objects read back as kubectl prints them
  const kubectl = async (args: string[]): Promise<{ items: any[] }> =>
    JSON.parse(
      (await run(cluster.kubectl, ["--kubeconfig", cluster.kubeconfigPath, ...args, "-o", "json"])).stdout,
    );
  beforeAll(async () => {
    cluster = await startKubeControlPlane();
    console.log(`[chart] control plane usable after ${cluster.startupMs} ms`);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("installs with external NATS and Redis and a model-sim pool, and every Deployment becomes ready", async () => {
    const namespace = await cluster.createNamespace("inferd-");
    const started = Date.now();
    await helm([
      "install",
      "inferd",
      CHART,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--namespace",
      namespace,
      "--wait",
      "--timeout",
      "180s",
      "-f",
      valuesFile({
        nats: { enabled: false, external: { url: "nats://nats.example:4222" } },
        redis: { enabled: false, external: { url: "redis://redis.example:6379" } },
        modelSim: { enabled: true, replicas: 2 },
      }),
    ]);
    console.log(`[chart] helm install --wait took ${Date.now() - started} ms`);
    const deployments = (await kubectl(["get", "deployments", "-n", namespace])).items;
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(
      ["autoscaler", "deployer", "gateway", "kv-index", "model-sim", "scorer"].map((s) => `inferd-${s}`),
    );
    for (const d of deployments) expect(d.status?.readyReplicas, d.metadata.name).toBe(d.spec.replicas);
    const pods = (
      await kubectl(["get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=model-sim"])
    ).items;
    expect(pods.map((p) => p.metadata.labels?.["llm-d.ai/role"])).toEqual(["both", "both"]);
    const { stdout } = await helm([
      "status",
      "inferd",
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--namespace",
      namespace,
    ]);
    expect(stdout).toMatch(/STATUS: deployed/);
  }, 300_000);

  it("passes server-side validation with the default values (NATS and Redis StatefulSets)", async () => {
    const namespace = await cluster.createNamespace("inferd-");
    const { stdout } = await helm([
      "install",
      "inferd",
      CHART,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--namespace",
      namespace,
      "--dry-run=server",
    ]);
    expect(stdout).toMatch(/kind: StatefulSet/);
  }, 120_000);

  it("is refused by the API server when a value is valid for the schema but not for Kubernetes", async () => {
    const namespace = await cluster.createNamespace("inferd-");
    const error = await helm([
      "install",
      "inferd",
      CHART,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--namespace",
      namespace,

      "-f",
      valuesFile({ gateway: { resources: { requests: { cpu: "lots" } } } }),
    ]).then(
      () => "",
      (err: { stderr?: string }) => err.stderr ?? String(err),
    );
    expect(error).toMatch(/quantities must match the regular expression|cpu/);
  }, 120_000);
});
