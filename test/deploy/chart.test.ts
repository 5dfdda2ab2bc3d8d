import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import {
  byKind,
  type K8sObject,
  lint,
  named,
  REPO,
  readmeConfigKeys,
  template,
  templateError,
} from "./helm.ts";

/** The values cases the chart is checked with (each also linted with --strict). */
const CASES: Record<string, object> = {
  default: {},
  "external NATS and Redis": {
    nats: { enabled: false, external: { urlSecret: { name: "nats-auth", key: "url" } } },
    redis: { enabled: false, external: { url: "redis://redis.data:6379" } },
  },
  "P/D pools": {
    modelSim: { enabled: true, role: "decode", replicas: 3 },
    scorer: { config: { profile: "pd" } },
  },
  KEDA: {
    deployer: { enabled: false },
    externalScaling: {
      enabled: true,
      kind: "keda",
      target: { name: "vllm-qwen" },
      variantName: "Qwen/Qwen3-32B/decode",
    },
  },
  "no deployer": { deployer: { enabled: false } },
  "NATS cluster and Redis Cluster": { nats: { replicas: 3 }, redis: { mode: "cluster" } },
  monitoring: { metrics: { serviceMonitor: { enabled: true }, podMonitor: { enabled: true } } },
  "scorer embedded in the gateway": { scorer: { embedded: true } },
};

const INFERD_SERVICES = ["gateway", "scorer", "kv-index", "autoscaler", "deployer"];

function configOf(objects: K8sObject[], component: string): Record<string, unknown> {
  return parse(named(objects, "ConfigMap", `inferd-${component}`).data!["config.yaml"]!);
}

describe("deploy - helm chart (real helm v4)", () => {
  it.each(Object.keys(CASES))("lints --strict and renders: %s", async (name) => {
    expect(await lint(CASES[name]!)).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const objects = await template(CASES[name]!);
    const counts = Object.entries(
      objects.reduce<Record<string, number>>((acc, o) => {
        acc[o.kind] = (acc[o.kind] ?? 0) + 1;
        return acc;
      }, {}),
    );
    console.log(
      `[chart] ${name}: ${objects.length} objects (${counts.map(([k, n]) => `${k} ${n}`).join(", ")})`,
    );
    expect(objects.length).toBeGreaterThan(10);
  });

  it("runs every inferd service non-root, read-only, without capabilities, with probes", async () => {
    const objects = await template({ modelSim: { enabled: true } });
    const deployments = byKind(objects, "Deployment");
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(
      [...INFERD_SERVICES, "model-sim"].map((s) => `inferd-${s}`).sort(),
    );
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext, d.metadata.name).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      for (const c of pod.containers) {
        expect(c.securityContext, d.metadata.name).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
        });
        expect(c.readinessProbe, d.metadata.name).toBeDefined();
        expect(c.resources?.requests, d.metadata.name).toBeDefined();
      }
    }
    for (const service of INFERD_SERVICES) {
      const c = named(objects, "Deployment", `inferd-${service}`).spec.template.spec.containers[0];
      expect(c.readinessProbe.httpGet.path).toBe("/readyz");
      expect(c.livenessProbe.httpGet.path).toBe("/healthz");
    }
  });

  it("renders each service's config with the keys its README documents", async () => {
    const objects = await template({ gateway: { config: { pickDeadlineMs: 800 } } });
    for (const service of INFERD_SERVICES) {
      const keys = readmeConfigKeys(service);
      const config = configOf(objects, service);
      for (const key of Object.keys(config)) expect(keys, `${service}: ${key}`).toContain(key);
      expect(config.natsUrl, service).toBe("nats://inferd-nats:4222");
      expect(config.subjectPrefix, service).toBe("inferd");
    }
    expect(configOf(objects, "gateway").pickDeadlineMs).toBe(800);
    expect(configOf(objects, "kv-index").redisUrl).toBe("redis://inferd-redis:6379");
  });

  it("runs the scorer inside the gateway pods with scorer.embedded: no scorer Deployment, its config beside the gateway's", async () => {
    const objects = await template({
      ...CASES["external NATS and Redis"],
      scorer: {
        embedded: true,
        config: { profile: "least-load" },
        endpointPickerConfig: "kind: EndpointPickerConfig\n",
      },
    });
    expect(objects.filter((o) => o.metadata.name === "inferd-scorer")).toEqual([]);
    const gateway = configOf(objects, "gateway");
    expect(gateway).toMatchObject({ scorerMode: "embedded", scorerConfig: "/etc/inferd/scorer.yaml" });
    const files = named(objects, "ConfigMap", "inferd-gateway").data!;
    const scorer = parse(files["scorer.yaml"]!) as Record<string, unknown>;
    const keys = readmeConfigKeys("scorer");
    for (const key of Object.keys(scorer)) expect(keys, `scorer: ${key}`).toContain(key);
    expect(scorer).toMatchObject({
      profile: "least-load",
      redisUrl: "redis://redis.data:6379",
      pickerConfig: "/etc/inferd/endpoint-picker.yaml",
    });
    expect(files["endpoint-picker.yaml"]).toContain("EndpointPickerConfig");
    // The scorer reads its secrets under its own names in the gateway's container.
    const env = named(objects, "Deployment", "inferd-gateway").spec.template.spec.containers[0].env;
    expect(env).toContainEqual({
      name: "INFERD_SCORER_NATS_URL",
      valueFrom: { secretKeyRef: { name: "nats-auth", key: "url" } },
    });
    const policies = byKind(
      await template({ scorer: { embedded: true }, networkPolicy: { enabled: true } }),
      "NetworkPolicy",
    );
    expect(policies.map((p) => p.metadata.name)).not.toContain("inferd-scorer");
    expect(await templateError({ scorer: { embedded: 3 } })).toMatch(/embedded/);
  });

  it("uses external NATS and Redis, with the NATS URL from a Secret, and runs neither", async () => {
    const objects = await template(CASES["external NATS and Redis"]!);
    expect(byKind(objects, "StatefulSet")).toEqual([]);
    expect(configOf(objects, "kv-index").redisUrl).toBe("redis://redis.data:6379");
    const env = named(objects, "Deployment", "inferd-gateway").spec.template.spec.containers[0].env;
    expect(env).toContainEqual({
      name: "INFERD_GATEWAY_NATS_URL",
      valueFrom: { secretKeyRef: { name: "nats-auth", key: "url" } },
    });
  });

  it("makes a 3-node NATS cluster with R3 streams and a Redis Cluster", async () => {
    const objects = await template(CASES["NATS cluster and Redis Cluster"]!);
    const nats = named(objects, "StatefulSet", "inferd-nats");
    expect(nats.spec.replicas).toBe(3);
    expect(named(objects, "ConfigMap", "inferd-nats").data!["nats.conf"]).toMatch(
      /cluster \{[\s\S]*inferd-nats-2\.inferd-nats-headless:6222/,
    );
    // Every service creates streams or buckets, so every one must ask for R3.
    for (const service of INFERD_SERVICES) expect(configOf(objects, service).streamReplicas, service).toBe(3);
    for (const service of INFERD_SERVICES)
      expect(configOf(await template(), service).streamReplicas, service).toBe(1);
    const external = await template({
      ...CASES["external NATS and Redis"],
      nats: { enabled: false, external: { url: "nats://nats.data:4222", streamReplicas: 3 } },
    });
    for (const service of INFERD_SERVICES)
      expect(configOf(external, service).streamReplicas, service).toBe(3);
    const kvIndex = configOf(objects, "kv-index");
    expect(kvIndex.redisClusterNodes).toHaveLength(6);
    expect(named(objects, "StatefulSet", "inferd-redis").spec.replicas).toBe(6);
    expect(named(objects, "Job", "inferd-redis-cluster-init").metadata.annotations!["helm.sh/hook"]).toBe(
      "post-install",
    );
  });

  it("makes the model-sim Deployment a pool of the deployer and the autoscaler, sending KV events to kv-index", async () => {
    const objects = await template({
      modelSim: { enabled: true, role: "decode", minReplicas: 2, maxReplicas: 6 },
    });
    const pool = { model: "Qwen/Qwen3-32B", minReplicas: 2, maxReplicas: 6 };
    expect(configOf(objects, "deployer")).toMatchObject({
      pools: [{ name: "inferd-model-sim", kind: "Deployment", ...pool }],
      targetPort: 8000,
    });
    expect(configOf(objects, "autoscaler").pools).toEqual([
      { pool: "inferd-model-sim", role: "decode", ...pool },
    ]);
    const sim = named(objects, "Deployment", "inferd-model-sim").spec.template;
    expect(sim.metadata.annotations).toEqual({ "inferd.io/kv-replay-port": "5558" });
    const args: string[] = sim.spec.containers[0].args;
    expect(JSON.parse(args[args.indexOf("--kv-events-config") + 1]!)).toMatchObject({
      endpoint: "tcp://inferd-kv-index:5557",
      replay_endpoint: "tcp://*:5558",
    });
    // Called by the gateway and scraped by the scorer (http), replayed by kv-index: from the release only.
    const policy = named(objects, "NetworkPolicy", "inferd-model-sim");
    expect(policy.spec.ingress.map((r: { ports: { port: string }[] }) => r.ports[0]!.port)).toEqual([
      "http",
      "kv-replay",
    ]);
    // A pools list of the user's replaces the chart's.
    const own = [{ name: "vllm-qwen", model: "Qwen/Qwen3-32B" }];
    const mine = await template({ modelSim: { enabled: true }, deployer: { config: { pools: own } } });
    expect(configOf(mine, "deployer").pools).toEqual(own);
    // Without kv-index the servers bind their publisher, and the deployer learns its port.
    const alone = await template({ modelSim: { enabled: true }, kvIndex: { enabled: false } });
    expect(named(alone, "Deployment", "inferd-model-sim").spec.template.metadata.annotations).toEqual({
      "inferd.io/kv-events-port": "5557",
      "inferd.io/kv-replay-port": "5558",
    });
  });

  it("gives RBAC to the deployer only, with only the verbs it uses", async () => {
    const objects = await template();
    const role = named(objects, "Role", "inferd-deployer");
    // The same rules the deployer's Kubernetes tests check against a real API server.
    const reference = parseAllDocuments(readFileSync(join(REPO, "deploy/rbac/deployer.yaml"), "utf8"))
      .map((d) => d.toJS() as K8sObject)
      .find((o) => o.kind === "Role");
    expect(role.rules).toEqual(reference?.rules);
    expect(byKind(objects, "Role")).toHaveLength(1);
    expect(byKind(objects, "ClusterRole")).toEqual([]);
    for (const d of byKind(objects, "Deployment")) {
      const pod = d.spec.template.spec;
      if (d.metadata.name === "inferd-deployer") expect(pod.serviceAccountName).toBe("inferd-deployer");
      else expect(pod.automountServiceAccountToken, d.metadata.name).toBe(false);
    }
    const without = await template(CASES["no deployer"]!);
    expect([
      ...byKind(without, "Role"),
      ...byKind(without, "RoleBinding"),
      ...byKind(without, "ServiceAccount"),
    ]).toEqual([]);
  });

  it("scales a model server from wva_desired_replicas with KEDA or an HPA", async () => {
    const keda = named(await template(CASES.KEDA!), "ScaledObject", "inferd-external-scaling");
    expect(keda.spec.scaleTargetRef).toEqual({ kind: "Deployment", name: "vllm-qwen" });
    expect(keda.spec.triggers[0].metadata.query).toBe(
      'max(wva_desired_replicas{variant_name="Qwen/Qwen3-32B/decode",namespace="inferd"})',
    );
    const hpa = named(
      await template({
        ...CASES.KEDA,
        externalScaling: { ...(CASES.KEDA as { externalScaling: object }).externalScaling, kind: "hpa" },
      }),
      "HorizontalPodAutoscaler",
      "inferd-external-scaling",
    );
    expect(hpa.spec.metrics[0].external.metric.name).toBe("wva_desired_replicas");
  });

  it("guards each service with a NetworkPolicy and the gateway with an HPA and a PDB", async () => {
    const objects = await template();
    expect(
      byKind(objects, "NetworkPolicy")
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual([...INFERD_SERVICES, "nats", "redis"].map((s) => `inferd-${s}`).sort());
    expect(named(objects, "HorizontalPodAutoscaler", "inferd-gateway").spec.minReplicas).toBe(2);
    expect(named(objects, "PodDisruptionBudget", "inferd-gateway").spec.minAvailable).toBe(1);
    expect(named(objects, "Deployment", "inferd-gateway").spec.replicas).toBeUndefined();
  });

  it.each([
    [{ nats: { replicas: 2 } }, /nats.replicas/],
    [{ redis: { mode: "sentinel" } }, /redis.mode/],
    [{ gateway: { replicas: -1 } }, /gateway.replicas/],
    [{ nats: { enabled: false } }, /nats/],
    [{ global: { subjectPrefix: "bad prefix" } }, /subjectPrefix/],
    [{ gateway: { unknownKey: true } }, /unknownKey/],
  ])("rejects bad values with a message naming them: %j", async (values, message) => {
    const error = await templateError(values);
    expect(error).toMatch(/values don't meet the specifications of the schema|schema/i);
    expect(error).toMatch(message);
  });
});
