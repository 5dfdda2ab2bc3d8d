import { connectNats, watchEndpoints } from "@inferd/bus";
import { EndpointState } from "@inferd/protocol";
import { type KubeControlPlane, startKubeControlPlane, startNats, waitFor } from "@inferd/testkit";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePools } from "../../src/domain/pools.ts";
import { KubeDriver, LWS } from "../../src/drivers/kubernetes/kube-driver.ts";
import { LeaderElector } from "../../src/drivers/kubernetes/leader-election.ts";
import { runDeployer } from "../../src/run.ts";
import { deployerConfig, publishDecision } from "../e2e/helpers.ts";
import { describeDriverContract } from "./contract.ts";
import { deploymentYaml, readDeploy } from "./kube-fixtures.ts";

const MODEL = "Qwen/Qwen3-32B";
let cp: KubeControlPlane;

beforeAll(async () => {
  cp = await startKubeControlPlane();
  process.stdout.write(`kube control plane usable after ${cp.startupMs} ms\n`);
  await cp.apply(readDeploy("crds/inferencepools.inference.networking.k8s.io.yaml"));
  await cp.apply(readDeploy("crds/leaderworkersets.leaderworkerset.x-k8s.io.yaml"));
}, 240_000);

afterAll(async () => {
  await cp?.stop();
});

async function deploymentDriver(kc: KubeConfig, namespace: string, pool: string): Promise<KubeDriver> {
  const driver = new KubeDriver({
    kubeConfig: kc,
    namespace,
    pools: parsePools([{ name: pool, model: MODEL, replicas: 1, minReplicas: 0, maxReplicas: 2 }]),
    targetPort: 8000,
    inferencePools: true,
  });
  await driver.start();
  return driver;
}

describeDriverContract(
  "kubernetes",
  async () => {
    const ns = await cp.createNamespace("contract");
    await cp.apply(deploymentYaml("sims", 1), ns);
    const driver = await deploymentDriver(cp.kubeConfig(), ns, "sims");
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    return {
      driver,
      pool: "sims",
      model: MODEL,
      async dispose() {
        await driver.stop();
        await core.deleteNamespace({ name: ns });
      },
    };
  },
  { timeoutMs: 60_000 },
);

describe("kubernetes driver", () => {
  it("kubernetes - an InferencePool is a pool: its selector, target port and model; scaled through the Deployment it selects", async () => {
    const ns = await cp.createNamespace("gie");
    await cp.apply(
      deploymentYaml("qwen-decode", 1, { "llm-d.ai/role": "decode", "llm-d.ai/inference-serving": "true" }),
      ns,
    );
    await cp.apply(
      `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata:
  name: qwen
  annotations:
    inferd.io/model: ${MODEL}
spec:
  selector:
    matchLabels:
      llm-d.ai/inference-serving: "true"
  targetPorts:
    - number: 8200
  endpointPickerRef:
    name: qwen-epp
    port:
      number: 9002
`,
      ns,
    );
    const driver = new KubeDriver({
      kubeConfig: cp.kubeConfig(),
      namespace: ns,
      pools: [],
      targetPort: 8000,
      inferencePools: true,
    });
    try {
      await driver.start();
      expect(driver.pools().map((p) => [p.name, p.model])).toEqual([["qwen", MODEL]]);
      const r = await waitFor(() => driver.replicas().find((x) => x.state === "ready"), {
        timeoutMs: 60_000,
      });
      expect(r).toMatchObject({ pool: "qwen", model: MODEL, role: "decode" });
      expect(r.address).toMatch(/^http:\/\/10\.244\.\d+\.\d+:8200$/);
      expect(r.kvEventsEndpoint).toMatch(/^tcp:\/\/10\.244\.\d+\.\d+:5557$/);
      await driver.scale("qwen", 2);
      const apps = cp.kubeConfig().makeApiClient(AppsV1Api);
      expect(
        (await apps.readNamespacedDeploymentScale({ name: "qwen-decode", namespace: ns })).spec?.replicas,
      ).toBe(2);
      await waitFor(() => driver.replicas().filter((x) => x.state === "ready").length === 2, {
        timeoutMs: 60_000,
      });
    } finally {
      await driver.stop();
    }
  }, 120_000);

  it("kubernetes - a LeaderWorkerSet pool is scaled through its /scale subresource", async () => {
    const ns = await cp.createNamespace("lws");
    await cp.apply(
      `apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata:
  name: wide-ep
spec:
  replicas: 1
  leaderWorkerTemplate:
    size: 4
    workerTemplate:
      spec:
        containers:
          - name: vllm
            image: vllm/vllm-openai:v0.11.0
`,
      ns,
    );
    const driver = new KubeDriver({
      kubeConfig: cp.kubeConfig(),
      namespace: ns,
      pools: parsePools([
        { name: "wide-ep", model: MODEL, kind: "LeaderWorkerSet", minReplicas: 1, maxReplicas: 3 },
      ]),
      targetPort: 8000,
      inferencePools: false,
    });
    try {
      await driver.start();
      expect(driver.desired("wide-ep")).toBe(1);
      await driver.scale("wide-ep", 5);
      const custom = cp.kubeConfig().makeApiClient(CustomObjectsApi);
      const obj = (await custom.getNamespacedCustomObject({ ...LWS, namespace: ns, name: "wide-ep" })) as {
        spec: { replicas: number };
      };
      expect(obj.spec.replicas).toBe(3);
    } finally {
      await driver.stop();
    }
  }, 60_000);

  it("kubernetes - the deployer's Role is enough to run the driver and hold the Lease, and no more", async () => {
    const ns = await cp.createNamespace("rbac");
    await cp.apply(readDeploy("rbac/deployer.yaml"), ns);
    await cp.apply(deploymentYaml("sims", 1), ns);
    const auth = cp.kubeConfig().makeApiClient(CoreV1Api);
    const token = await auth.createNamespacedServiceAccountToken({
      name: "inferd-deployer",
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const admin = cp.kubeConfig();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "c",
          server: cp.server,
          caFile: admin.getCurrentCluster()?.caFile ?? "",
          skipTLSVerify: false,
        },
      ],
      users: [{ name: "sa", token: token.status?.token ?? "" }],
      contexts: [{ name: "c", cluster: "c", user: "sa", namespace: ns }],
      currentContext: "c",
    });
    const driver = await deploymentDriver(kc, ns, "sims");
    let leader = false;
    const elector = new LeaderElector({
      kubeConfig: kc,
      namespace: ns,
      name: "inferd-deployer",
      identity: "a",
      durationMs: 3_000,
      onChange: (l) => {
        leader = l;
      },
    });
    try {
      await waitFor(() => driver.replicas().some((r) => r.state === "ready"), { timeoutMs: 60_000 });
      await driver.scale("sims", 2);
      await waitFor(() => driver.replicas().filter((r) => r.state === "ready").length === 2, {
        timeoutMs: 60_000,
      });
      elector.start();
      await waitFor(() => leader, { timeoutMs: 10_000, message: "lease held with the Role's verbs" });
      // Verbs it does not use are refused.
      const apps = kc.makeApiClient(AppsV1Api);
      await expect(apps.deleteNamespacedDeployment({ name: "sims", namespace: ns })).rejects.toMatchObject({
        code: 403,
      });
      await expect(kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns })).rejects.toMatchObject(
        { code: 403 },
      );
    } finally {
      await elector.stop();
      await driver.stop();
    }
  }, 120_000);

  it("kubernetes - one leader per Lease; a standby takes over when the leader steps down", async () => {
    const ns = await cp.createNamespace("lease");
    const states = { a: false, b: false };
    const make = (id: "a" | "b") =>
      new LeaderElector({
        kubeConfig: cp.kubeConfig(),
        namespace: ns,
        name: "inferd-deployer",
        identity: id,
        durationMs: 3_000,
        onChange: (l) => {
          states[id] = l;
        },
      });
    const a = make("a");
    const b = make("b");
    try {
      a.start();
      await waitFor(() => states.a, { timeoutMs: 10_000 });
      b.start();
      // b has read the Lease held by a and stands by.
      await waitFor(() => b.attempts >= 2, { timeoutMs: 10_000 });
      expect(states.b).toBe(false);
      expect(states.a).toBe(true);
      await a.stop();
      await waitFor(() => states.b, { timeoutMs: 10_000, message: "standby takes over" });
      expect(states.a).toBe(false);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it("kubernetes - the deployer acts on a ScaleDecision: /scale, Pods, then READY records in INFERD_ENDPOINTS", async () => {
    const ns = await cp.createNamespace("e2e");
    await cp.apply(deploymentYaml("sims", 1), ns);
    const nats = await startNats();
    const nc = await connectNats({ servers: nats.url, name: "kube-e2e" });
    const inv = await watchEndpoints(nc);
    const config = deployerConfig(nats.url, {
      INFERD_DEPLOYER_DRIVER: "kubernetes",
      INFERD_DEPLOYER_NAMESPACE: ns,
      INFERD_DEPLOYER_LEASE_DURATION_MS: "3000",
      INFERD_DEPLOYER_POOLS: JSON.stringify([
        { name: "sims", model: "Qwen/Qwen3-0.6B", minReplicas: 0, maxReplicas: 3 },
      ]),
    });
    const deployer = await runDeployer(config, { kubeConfig: cp.kubeConfig() });
    const ready = () => [...inv.endpoints.values()].filter((e) => e.ready && e.state === EndpointState.READY);
    try {
      await waitFor(() => ready().length === 1, {
        timeoutMs: 60_000,
        message: "the existing Pod in the inventory",
      });
      expect(ready()[0]!.address).toMatch(/^http:\/\/10\.244\./);
      const t0 = Date.now();
      await publishDecision(nc, "sims", 2, "Qwen/Qwen3-0.6B");
      await waitFor(() => ready().length === 2, { timeoutMs: 60_000, message: "a second READY record" });
      process.stdout.write(
        `kubernetes driver: decision -> ready replica in the inventory ${Date.now() - t0} ms\n`,
      );
      await publishDecision(nc, "sims", 1, "Qwen/Qwen3-0.6B");
      await waitFor(() => inv.endpoints.size === 1, {
        timeoutMs: 60_000,
        message: "the removed Pod's record deleted",
      });
    } finally {
      await deployer.stop();
      inv.stop();
      await nc.close();
      await nats.dispose();
    }
  }, 180_000);
});
