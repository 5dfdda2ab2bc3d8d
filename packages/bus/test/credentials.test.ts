import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestCertificates, startNats } from "@inferd/testkit";
import { nkeys } from "@nats-io/nats-core";
import { describe, expect, it, onTestFinished } from "vitest";
import { connectNats, type NatsCredentials, natsAuthOptions } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "bus-creds-"));

async function server(extraArgs: string[], scheme: "nats" | "tls" = "nats") {
  const s = await startNats({ jetstream: false, extraArgs, scheme });
  onTestFinished(() => s.dispose());
  return s;
}

/** Connects, round-trips one request through the server, closes. */
async function works(url: string, credentials: NatsCredentials): Promise<void> {
  const nc = await connectNats({ servers: url, name: "creds-test", credentials, waitOnFirstConnect: false });
  try {
    const sub = nc.subscribe("creds.echo", {
      callback: (_e, m) => {
        m.respond(m.data);
      },
    });
    const reply = await nc.request("creds.echo", "ping", { timeout: 5000 });
    expect(reply.string()).toBe("ping");
    sub.unsubscribe();
  } finally {
    await nc.close();
  }
}

const refused = (url: string, credentials: NatsCredentials) =>
  expect(
    connectNats({ servers: url, name: "creds-test", credentials, waitOnFirstConnect: false }).then((nc) =>
      nc.close(),
    ),
  ).rejects.toThrow();

describe("bus - NATS credentials against a real nats-server", () => {
  it("user and password", async () => {
    const s = await server(["--user", "svc", "--pass", "s3cret"]);
    await works(s.url, { user: "svc", password: "s3cret" });
    await refused(s.url, { user: "svc", password: "wrong" });
    await refused(s.url, {});
  });

  it("token", async () => {
    const s = await server(["--auth", "t0ken-abc"]);
    await works(s.url, { token: "t0ken-abc" });
    await refused(s.url, { token: "nope" });
  });

  it("NKey seed file", async () => {
    const user = nkeys.createUser();
    const conf = join(dir, "nkey.conf");
    writeFileSync(conf, `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
    const seedFile = join(dir, "user.nk");
    writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`);
    const s = await server(["-c", conf]);
    await works(s.url, { nkeySeedFile: seedFile });
    const other = join(dir, "other.nk");
    writeFileSync(other, new TextDecoder().decode(nkeys.createUser().getSeed()));
    await refused(s.url, { nkeySeedFile: other });
  });

  it("TLS with a verified client certificate", async () => {
    const c = makeTestCertificates();
    const s = await server(
      [
        "--tls",
        "--tlscert",
        c.serverCertFile,
        "--tlskey",
        c.serverKeyFile,
        "--tlscacert",
        c.caFile,
        "--tlsverify",
      ],
      "tls",
    );
    await works(s.url, { tlsCaFile: c.caFile, tlsCertFile: c.clientCertFile, tlsKeyFile: c.clientKeyFile });
    // The server demands a client certificate; a client without one is refused.
    await refused(s.url, { tlsCaFile: c.caFile });
    // A client that does not trust the server's CA refuses the server.
    await refused(s.url, { tlsCertFile: c.clientCertFile, tlsKeyFile: c.clientKeyFile });
  });

  it("refuses contradictory settings before connecting", () => {
    expect(() => natsAuthOptions({ user: "a", token: "b" })).toThrow(/choose one NATS auth method/);
    expect(() => natsAuthOptions({ password: "p" })).toThrow(/password without a user/);
    expect(() => natsAuthOptions({ tlsCertFile: "c.pem" })).toThrow(/certificate and key go together/);
    expect(() => natsAuthOptions({ nkeySeedFile: join(dir, "missing.nk") })).toThrow(
      /cannot read NATS NKey seed file/,
    );
    expect(natsAuthOptions({ user: "", token: "" })).toEqual({});
  });
});
