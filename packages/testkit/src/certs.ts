import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  dir: string;
  caFile: string;
  /** Server certificate for 127.0.0.1 / localhost, signed by the CA. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Client certificate (CN inferd-test-client), signed by the CA. */
  clientCertFile: string;
  clientKeyFile: string;
}

/**
 * A throwaway CA with a server and a client certificate, made with the openssl command line
 * (present on every Debian machine) in a temporary directory, for TLS tests against real
 * nats-server and redis-server. EC P-256 keys: fast to generate.
 */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "inferd-certs-"));
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const key = (name: string) => ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f(name));
  key("ca.key");
  ssl(
    "req",
    "-x509",
    "-new",
    "-key",
    f("ca.key"),
    "-subj",
    "/CN=inferd-test-ca",
    "-days",
    "2",
    "-out",
    f("ca.pem"),
  );
  const issue = (name: string, cn: string, ext: string) => {
    key(`${name}.key`);
    ssl("req", "-new", "-key", f(`${name}.key`), "-subj", `/CN=${cn}`, "-out", f(`${name}.csr`));
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    ssl(
      "x509",
      "-req",
      "-in",
      f(`${name}.csr`),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      f(`${name}.ext`),
      "-out",
      f(`${name}.pem`),
    );
  };
  issue(
    "server",
    "127.0.0.1",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth",
  );
  issue("client", "inferd-test-client", "extendedKeyUsage=clientAuth");
  return {
    dir,
    caFile: f("ca.pem"),
    serverCertFile: f("server.pem"),
    serverKeyFile: f("server.key"),
    clientCertFile: f("client.pem"),
    clientKeyFile: f("client.key"),
  };
}
