import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Paths of the PKI a test control plane uses (all PEM files in one folder). */
export interface ControlPlanePki {
  ca: { cert: string; key: string };
  apiserver: { cert: string; key: string };
  admin: { cert: string; key: string };
  controllerManager: { cert: string; key: string };
  scheduler: { cert: string; key: string };
  frontProxyClient: { cert: string; key: string };
  serviceAccount: { key: string; pub: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** P-256 keys: a fraction of RSA's generation time, which matters on a loaded 2-core machine. */
function genKey(file: string, dir: string): void {
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file], dir);
}

function clientCert(dir: string, name: string, subject: string, ext?: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  genKey(key, dir);
  openssl(["req", "-new", "-key", key, "-subj", subject, "-out", csr], dir);
  const sign = [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    cert,
  ];
  if (ext) {
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, ext);
    sign.push("-extfile", extFile);
  }
  openssl(sign, dir);
  return { cert, key };
}

/**
 * A CA and the certificates of a one-node test cluster on 127.0.0.1, made with the openssl CLI:
 * the API server's serving certificate, clients for admin (system:masters), the controller
 * manager and the scheduler, the front-proxy client and the service-account signing key.
 */
export function makePki(dir: string): ControlPlanePki {
  genKey("ca.key", dir);
  openssl(
    ["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=inferd-test-ca", "-days", "2", "-out", "ca.crt"],
    dir,
  );
  const apiserver = clientCert(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  const clientExt = "extendedKeyUsage=clientAuth\n";
  const admin = clientCert(dir, "admin", "/O=system:masters/CN=inferd-test-admin", clientExt);
  const controllerManager = clientCert(
    dir,
    "controller-manager",
    "/CN=system:kube-controller-manager",
    clientExt,
  );
  const scheduler = clientCert(dir, "scheduler", "/CN=system:kube-scheduler", clientExt);
  const frontProxyClient = clientCert(dir, "front-proxy-client", "/CN=front-proxy-client", clientExt);
  genKey("sa.key", dir);
  openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  return {
    ca: { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") },
    apiserver,
    admin,
    controllerManager,
    scheduler,
    frontProxyClient,
    serviceAccount: { key: join(dir, "sa.key"), pub: join(dir, "sa.pub") },
  };
}

/** A kubeconfig file for one client certificate. */
export function writeKubeconfig(
  file: string,
  server: string,
  caCert: string,
  user: { name: string; cert: string; key: string },
): string {
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: inferd-test
  cluster:
    server: ${server}
    certificate-authority: ${caCert}
users:
- name: ${user.name}
  user:
    client-certificate: ${user.cert}
    client-key: ${user.key}
contexts:
- name: inferd-test
  context:
    cluster: inferd-test
    user: ${user.name}
current-context: inferd-test
`,
  );
  return file;
}
