import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  connectNats,
  decisionsStreamConfig,
  ensureStream,
  jetStreamClient,
  publishMessage,
  watchEndpoints,
} from "@inferd/bus";
import {
  create,
  type Endpoint,
  EndpointRole,
  EndpointState,
  ScaleDecisionSchema,
  subjects,
  timestampNow,
} from "@inferd/protocol";
import {
  type KubeControlPlane,
  startKubeControlPlane,
  startNats,
  startProcess,
  waitFor,
} from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { CHART, helm, REPO } from "./helm.ts";

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
    // An upgrade before the deployer has scaled the pool keeps its size (see the next test for after).
    await helm([
      ...["upgrade", "inferd", CHART, "--kubeconfig", cluster.kubeconfigPath, "--namespace", namespace],
      ...["--reuse-values", "--set", "global.logLevel=debug"],
    ]);
    const sim = (await kubectl(["get", "deployments", "-n", namespace])).items.find(
      (d) => d.metadata.name === "inferd-model-sim",
    );
    expect(sim?.spec.replicas).toBe(2);
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

  it("upgrades to the scorer embedded in the gateway (scorer.embedded) and back, every Deployment ready each time", async () => {
    const namespace = await cluster.createNamespace("inferd-");
    const inNamespace = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", namespace];
    // The NATS URL from a Secret, as a user with credentials in it has it: the embedded scorer reads
    // it under its own name in the gateway's container.
    await run(cluster.kubectl, [
      ...inNamespace,
      ...["create", "secret", "generic", "nats-auth", "--from-literal=url=nats://nats.example:4222"],
    ]);
    await helm([
      ...["install", "inferd", CHART, ...inNamespace, "--wait", "--timeout", "180s", "-f"],
      valuesFile({
        nats: { enabled: false, external: { urlSecret: { name: "nats-auth", key: "url" } } },
        redis: { enabled: false, external: { url: "redis://redis.example:6379" } },
      }),
    ]);
    const deploymentNames = async () =>
      (await kubectl(["get", "deployments", "-n", namespace])).items.map((d) => d.metadata.name).sort();
    const expectAllReady = async () => {
      for (const d of (await kubectl(["get", "deployments", "-n", namespace])).items) {
        // The rollout is over: the new ReplicaSet's pods are the ready ones (none of the old left).
        expect(d.status?.observedGeneration, d.metadata.name).toBe(d.metadata.generation);
        expect(d.status?.updatedReplicas, d.metadata.name).toBe(d.spec.replicas);
        expect(d.status?.readyReplicas, d.metadata.name).toBe(d.spec.replicas);
        expect(d.status?.replicas, d.metadata.name).toBe(d.spec.replicas);
      }
    };
    expect(await deploymentNames()).toContain("inferd-scorer");
    const gatewayBefore = (await kubectl([
      "get",
      "deployment",
      "inferd-gateway",
      "-n",
      namespace,
    ])) as unknown as {
      spec: { template: { metadata: { annotations: Record<string, string> } } };
    };

    await helm([
      ...["upgrade", "inferd", CHART, ...inNamespace, "--reuse-values", "--set", "scorer.embedded=true"],
      ...["--set", "scorer.config.profile=least-load", "--wait", "--timeout", "180s"],
    ]);
    // No scorer Deployment (nor its Service or ConfigMap) is left; the gateway carries the scorer.
    expect(await deploymentNames()).toEqual(
      ["autoscaler", "deployer", "gateway", "kv-index"].map((s) => `inferd-${s}`),
    );
    const names = (kind: string) =>
      kubectl(["get", kind, "-n", namespace]).then((l) => l.items.map((o) => o.metadata.name));
    expect(await names("services")).not.toContain("inferd-scorer");
    expect(await names("configmaps")).not.toContain("inferd-scorer");
    await expectAllReady();
    const configMap = (await kubectl(["get", "configmap", "inferd-gateway", "-n", namespace])) as unknown as {
      data: Record<string, string>;
    };
    expect(parse(configMap.data["config.yaml"]!)).toMatchObject({
      scorerMode: "embedded",
      scorerConfig: "/etc/inferd/scorer.yaml",
    });
    expect(parse(configMap.data["scorer.yaml"]!)).toMatchObject({
      profile: "least-load",
      redisUrl: "redis://redis.example:6379",
      subjectPrefix: "inferd",
    });
    const gateway = (await kubectl(["get", "deployment", "inferd-gateway", "-n", namespace])) as unknown as {
      spec: {
        template: {
          metadata: { annotations: Record<string, string> };
          spec: { containers: { args: string[]; env: object[]; volumeMounts: object[] }[] };
        };
      };
    };
    const container = gateway.spec.template.spec.containers[0]!;
    // The gateway reads the config.yaml above (scorerMode: embedded) from the ConfigMap's volume,
    // where scorer.yaml lies beside it.
    expect(container.args).toEqual(["gateway", "--config", "/etc/inferd/config.yaml"]);
    expect(container.volumeMounts).toContainEqual({
      name: "config",
      mountPath: "/etc/inferd",
      readOnly: true,
    });
    for (const env of ["INFERD_GATEWAY_NATS_URL", "INFERD_SCORER_NATS_URL"])
      expect(container.env).toContainEqual({
        name: env,
        valueFrom: { secretKeyRef: { name: "nats-auth", key: "url" } },
      });
    // The gateway's pods were replaced: they start with the scorer's file.
    expect(gateway.spec.template.metadata.annotations["checksum/config"]).not.toBe(
      gatewayBefore.spec.template.metadata.annotations["checksum/config"],
    );
    const pods = (
      await kubectl(["get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=gateway"])
    ).items.filter((p) => p.metadata.deletionTimestamp === undefined);
    expect(pods.length).toBeGreaterThan(0);
    for (const p of pods)
      expect(p.metadata.annotations["checksum/config"], p.metadata.name).toBe(
        gateway.spec.template.metadata.annotations["checksum/config"],
      );

    // And back: the scorer is its own Deployment again, the gateway asks it over NATS.
    await helm([
      ...["upgrade", "inferd", CHART, ...inNamespace, "--reuse-values", "--set", "scorer.embedded=false"],
      ...["--wait", "--timeout", "180s"],
    ]);
    expect(await deploymentNames()).toContain("inferd-scorer");
    await expectAllReady();
    const back = (await kubectl(["get", "configmap", "inferd-gateway", "-n", namespace])) as unknown as {
      data: Record<string, string>;
    };
    expect(Object.keys(back.data)).toEqual(["config.yaml"]);
    expect(parse(back.data["config.yaml"]!).scorerMode).toBeUndefined();
  }, 300_000);

  it("the chart's deployer registers the chart's model-sim pool and scales it on a ScaleDecision", async () => {
    const namespace = await cluster.createNamespace("inferd-");
    const nats = await startNats({ jetstream: true });
    const nc = await connectNats({ servers: nats.url, name: "chart-deployer-test" });
    try {
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
          nats: { enabled: false, external: { url: nats.url } },
          redis: { enabled: false, external: { url: "redis://redis.example:6379" } },
          modelSim: { enabled: true, replicas: 2, maxReplicas: 4 },
        }),
      ]);
      // The deployer cannot run in a kwok Pod: run it here with the config the chart installed and
      // the token of the chart's ServiceAccount, so the chart's Role is what it is allowed.
      const configMap = JSON.parse(
        (
          await run(cluster.kubectl, [
            ...["--kubeconfig", cluster.kubeconfigPath, "-n", namespace],
            ...["get", "configmap", "inferd-deployer", "-o", "json"],
          ])
        ).stdout,
      );
      const rendered = parse(configMap.data["config.yaml"]);
      expect(rendered).toMatchObject({ driver: "kubernetes", namespace, natsUrl: nats.url });
      const token = (
        await run(cluster.kubectl, [
          ...["--kubeconfig", cluster.kubeconfigPath, "-n", namespace],
          ...["create", "token", "inferd-deployer"],
        ])
      ).stdout.trim();
      const dir = mkdtempSync(join(tmpdir(), "inferd-deployer-"));
      const admin = parse(readFileSync(cluster.kubeconfigPath, "utf8"));
      const kubeconfig = join(dir, "kubeconfig");
      writeFileSync(
        kubeconfig,
        stringify({
          ...admin,
          users: [{ name: "inferd-deployer", user: { token } }],
          contexts: [{ name: "sa", context: { cluster: admin.clusters[0].name, user: "inferd-deployer" } }],
          "current-context": "sa",
        }),
      );
      const file = join(dir, "config.yaml");
      writeFileSync(file, stringify({ ...rendered, kubeconfig, opsPort: 0 }));

      const pool = "inferd-model-sim";
      const deploymentOf = async (name: string) =>
        JSON.parse(
          (
            await run(cluster.kubectl, [
              ...["--kubeconfig", cluster.kubeconfigPath, "-n", namespace],
              ...["get", "deployment", name, "-o", "json"],
            ])
          ).stdout,
        );
      const endpoints = new Map<string, Endpoint>();
      const inventory = await watchEndpoints(nc, {
        onChange: (key, ep) => (ep ? endpoints.set(key, ep) : endpoints.delete(key)),
      });
      const ready = () =>
        [...endpoints.values()].filter((e) => e.pool === pool && e.state === EndpointState.READY);
      const deployer = startProcess({
        command: process.execPath,
        args: [join(REPO, "services/deployer/src/main.ts"), "--config", file],
      });
      try {
        await waitFor(() => ready().length === 2, {
          timeoutMs: 60_000,
          message: `the 2 model-sim pods READY in the endpoints bucket (${deployer.output().slice(-1500)})`,
        });
        for (const e of ready()) {
          expect(e).toMatchObject({ model: "Qwen/Qwen3-32B", role: EndpointRole.BOTH, ready: true });
          expect(e.address).toMatch(/^http:\/\/10\.244\.\d+\.\d+:8000$/);
          expect(e.kvReplayEndpoint).toMatch(/^tcp:\/\/10\.244\.\d+\.\d+:5558$/);
        }

        await ensureStream(nc, decisionsStreamConfig());
        await publishMessage(
          jetStreamClient(nc),
          subjects().decisions("Qwen/Qwen3-32B", pool),
          ScaleDecisionSchema,
          create(ScaleDecisionSchema, {
            model: "Qwen/Qwen3-32B",
            pool,
            desiredReplicas: 3,
            reason: "test",
            decidedAt: timestampNow(),
          }),
        );
        await waitFor(() => ready().length === 3, {
          timeoutMs: 60_000,
          message: `a third model-sim pod READY after the decision (${deployer.output().slice(-1500)})`,
        });
        expect((await deploymentOf(pool)).spec.replicas).toBe(3);

        // An upgrade after the deployer scaled the pool neither fails on the field the deployer now
        // owns (spec.replicas, through /scale) nor resets the size.
        await helm([
          ...["upgrade", "inferd", CHART, "--kubeconfig", cluster.kubeconfigPath, "--namespace", namespace],
          ...["--reuse-values", "--set", "global.logLevel=debug"],
        ]);
        expect((await deploymentOf(pool)).spec.replicas).toBe(3);
      } finally {
        inventory.stop();
        await deployer.stop();
      }
    } finally {
      await nc.close();
      await nats.dispose();
    }
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
