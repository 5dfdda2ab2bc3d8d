import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@inferd/service-kit/free-port";
import {
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
} from "@kubernetes/client-node";
import { type ManagedProcess, startProcess } from "../process.ts";
import { waitFor } from "../wait-for.ts";
import { makePki, writeKubeconfig } from "./certs.ts";
import { requireKubeTools } from "./tools.ts";

export interface KubeControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** kubeconfig of a cluster admin (system:masters), for clients, kubectl and helm. */
  readonly kubeconfigPath: string;
  /** Where the PKI, kubeconfigs and etcd data live. */
  readonly dir: string;
  /** Milliseconds from start to usable (API ready, fake node Ready, default ServiceAccount made). */
  readonly startupMs: number;
  /** A @kubernetes/client-node config for the admin. */
  kubeConfig(): KubeConfig;
  /** A namespace of its own for one test (name = prefix + random suffix), with its default ServiceAccount. */
  createNamespace(prefix?: string): Promise<string>;
  /** Creates every object of a multi-document YAML (replacing existing ones); waits for CRDs to be Established. */
  apply(yaml: string, namespace?: string): Promise<KubernetesObject[]>;
  /** The built kubectl, for tests that want it (v1.37, unlike an older one on PATH). */
  readonly kubectl: string;
  stop(): Promise<void>;
}

export interface StartKubeControlPlaneOptions {
  /** Run kwok (fake nodes, Pods Running/Ready without a kubelet) and one fake node. Default true. */
  kwok?: boolean;
  /** Keep the folder after stop (debugging). */
  keepDir?: boolean;
}

function httpsOk(url: string, ca: string, cert: string, key: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ca, cert, key, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/**
 * A real Kubernetes control plane on 127.0.0.1 for tests: etcd, kube-apiserver (RBAC on),
 * kube-controller-manager, kube-scheduler and kwok with one fake node, every port free-picked so
 * test files can each run one. Built by scripts/build-kube-tools.sh; no containers, no kubelet:
 * Pods get IPs and become Ready, but nothing runs in them.
 */
export async function startKubeControlPlane(
  options: StartKubeControlPlaneOptions = {},
): Promise<KubeControlPlane> {
  const tools = requireKubeTools();
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "inferd-kube-"));
  const procs: ManagedProcess[] = [];
  const stopAll = async () => {
    for (const p of [...procs].reverse()) await p.stop(5_000);
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pki = makePki(dir);
    const [etcdPort, etcdPeer, apiPort, cmPort, schedPort, kwokPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    const ca = readFileSync(pki.ca.cert, "utf8");
    const adminCert = readFileSync(pki.admin.cert, "utf8");
    const adminKey = readFileSync(pki.admin.key, "utf8");
    const adminKubeconfig = writeKubeconfig(join(dir, "admin.kubeconfig"), server, pki.ca.cert, {
      name: "admin",
      ...pki.admin,
    });
    const cmKubeconfig = writeKubeconfig(join(dir, "controller-manager.kubeconfig"), server, pki.ca.cert, {
      name: "controller-manager",
      ...pki.controllerManager,
    });
    const schedKubeconfig = writeKubeconfig(join(dir, "scheduler.kubeconfig"), server, pki.ca.cert, {
      name: "scheduler",
      ...pki.scheduler,
    });
    const run = (command: string, args: string[]) => {
      const p = startProcess({ command, args, cwd: dir });
      procs.push(p);
      return p;
    };
    const alive = (p: ManagedProcess, name: string) => {
      if (p.child.exitCode !== null) throw new Error(`${name} exited: ${p.output().slice(-3_000)}`);
    };

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    mkdirSync(join(dir, "etcd"));
    const etcd = run(tools.bin("etcd"), [
      "--name=default",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await waitFor(
      async () => {
        alive(etcd, "etcd");
        return (await fetch(`${etcdUrl}/health`)).ok;
      },
      { timeoutMs: 30_000, intervalMs: 100, message: "etcd to serve" },
    );

    const apiserver = run(tools.bin("kube-apiserver"), [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      "--endpoint-reconciler-type=none",
      "--service-cluster-ip-range=10.96.0.0/16",
      "--authorization-mode=Node,RBAC",
      `--client-ca-file=${pki.ca.cert}`,
      `--tls-cert-file=${pki.apiserver.cert}`,
      `--tls-private-key-file=${pki.apiserver.key}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.serviceAccount.pub}`,
      `--service-account-signing-key-file=${pki.serviceAccount.key}`,
      `--requestheader-client-ca-file=${pki.ca.cert}`,
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-username-headers=X-Remote-User",
      `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
      `--proxy-client-key-file=${pki.frontProxyClient.key}`,
      "--allow-privileged=true",
      "--enable-priority-and-fairness=false",
      "--v=0",
    ]);
    await waitFor(
      async () => {
        alive(apiserver, "kube-apiserver");
        return httpsOk(`${server}/readyz`, ca, adminCert, adminKey);
      },
      { timeoutMs: 90_000, intervalMs: 200, message: "kube-apiserver /readyz" },
    );

    const common = (kubeconfig: string, port: number) => [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
    ];
    const controllerManager = run(tools.bin("kube-controller-manager"), [
      ...common(cmKubeconfig, cmPort),
      "--use-service-account-credentials=true",
      `--root-ca-file=${pki.ca.cert}`,
      `--cluster-signing-cert-file=${pki.ca.cert}`,
      `--cluster-signing-key-file=${pki.ca.key}`,
      `--service-account-private-key-file=${pki.serviceAccount.key}`,
      "--v=0",
    ]);
    run(tools.bin("kube-scheduler"), [...common(schedKubeconfig, schedPort), "--v=0"]);

    const kc = new KubeConfig();
    kc.loadFromFile(adminKubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    if (options.kwok !== false) {
      const kwok = run(tools.bin("kwok"), [
        `--kubeconfig=${adminKubeconfig}`,
        `--config=${tools.stages}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--cidr=10.244.0.0/16",
        "--node-ip=10.0.0.1",
        `--server-address=127.0.0.1:${kwokPort}`,
      ]);
      await core.createNode({
        body: {
          metadata: {
            name: "kwok-node-0",
            annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
            labels: { "kubernetes.io/hostname": "kwok-node-0", "kubernetes.io/os": "linux", type: "kwok" },
          },
          status: {
            allocatable: { cpu: "64", memory: "512Gi", pods: "250" },
            capacity: { cpu: "64", memory: "512Gi", pods: "250" },
          },
        },
      });
      await waitFor(
        async () => {
          alive(kwok, "kwok");
          const node = await core.readNode({ name: "kwok-node-0" });
          return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        },
        { timeoutMs: 60_000, intervalMs: 200, message: "fake node Ready" },
      );
    }
    // Pods are refused until the controller manager has made the namespace's default ServiceAccount.
    try {
      await waitFor(
        () => {
          alive(controllerManager, "kube-controller-manager");
          return core.readNamespacedServiceAccount({ name: "default", namespace: "default" });
        },
        { timeoutMs: 90_000, intervalMs: 200, message: "default ServiceAccount" },
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\n--- kube-controller-manager ---\n${controllerManager.output().slice(-3_000)}`,
      );
    }
    const startupMs = Date.now() - started;

    const objects = KubernetesObjectApi.makeApiClient(kc);
    return {
      server,
      kubeconfigPath: adminKubeconfig,
      dir,
      startupMs,
      kubectl: tools.bin("kubectl"),
      kubeConfig() {
        const c = new KubeConfig();
        c.loadFromFile(adminKubeconfig);
        return c;
      },
      async createNamespace(prefix = "t") {
        const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
        await core.createNamespace({ body: { metadata: { name } } });
        await waitFor(() => core.readNamespacedServiceAccount({ name: "default", namespace: name }), {
          timeoutMs: 30_000,
          intervalMs: 100,
          message: `default ServiceAccount of ${name}`,
        });
        return name;
      },
      async apply(yaml, namespace) {
        const out: KubernetesObject[] = [];
        for (const doc of loadAllYaml(yaml) as KubernetesObject[]) {
          if (!doc?.kind) continue;
          const spec = {
            ...doc,
            metadata: { ...doc.metadata, ...(namespace && !doc.metadata?.namespace ? { namespace } : {}) },
          };
          let created: KubernetesObject;
          try {
            created = await objects.create(spec);
          } catch (err) {
            if ((err as { code?: number }).code !== 409) throw err;
            const existing = await objects.read(spec as never);
            created = await objects.replace({
              ...spec,
              metadata: { ...spec.metadata, resourceVersion: existing.metadata?.resourceVersion },
            });
          }
          out.push(created);
          if (doc.kind === "CustomResourceDefinition") {
            await waitFor(
              async () => {
                const crd = (await objects.read(spec as never)) as {
                  status?: { conditions?: { type: string; status: string }[] };
                };
                return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
              },
              { timeoutMs: 30_000, intervalMs: 100, message: `CRD ${doc.metadata?.name} Established` },
            );
          }
        }
        return out;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
