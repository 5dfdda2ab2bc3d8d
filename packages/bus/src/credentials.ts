import { readFileSync } from "node:fs";
import { type ConnectionOptions, credsAuthenticator, nkeyAuthenticator } from "@nats-io/nats-core";

/**
 * How a service proves who it is to NATS, and how it checks the server: one of user/password,
 * token, NKey seed file or JWT creds file, plus optional TLS (a CA to verify the server, a
 * client certificate and key for servers that verify clients). Empty strings mean "not set", so
 * a service config can carry every key with "" defaults (@inferd/service-kit's
 * `natsCredentialFields`).
 */
export interface NatsCredentials {
  user?: string;
  password?: string;
  token?: string;
  /** File holding a user NKey seed (`SU...`). */
  nkeySeedFile?: string;
  /** A `.creds` file (user JWT + seed) for operator/JWT mode. */
  credsFile?: string;
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

export class NatsCredentialsError extends Error {}

/**
 * The nats.js connect options for `creds`. Refuses contradictory settings (two auth methods, a
 * password without a user, a client certificate without its key) rather than let the server
 * pick one. Files are read here, so a missing file fails at start with its path.
 */
export function natsAuthOptions(
  creds: NatsCredentials = {},
  readFile: (path: string) => Uint8Array = (p) => readFileSync(p),
): Partial<ConnectionOptions> {
  const set = (v: string | undefined): v is string => v !== undefined && v !== "";
  const methods = [
    set(creds.user) && "user/password",
    set(creds.token) && "token",
    set(creds.nkeySeedFile) && "NKey seed file",
    set(creds.credsFile) && "creds file",
  ].filter(Boolean);
  if (methods.length > 1)
    throw new NatsCredentialsError(`choose one NATS auth method, got ${methods.join(" and ")}`);
  if (set(creds.password) && !set(creds.user)) throw new NatsCredentialsError("NATS password without a user");
  if (set(creds.tlsCertFile) !== set(creds.tlsKeyFile))
    throw new NatsCredentialsError("NATS TLS client certificate and key go together");
  const read = (path: string, what: string) => {
    try {
      return readFile(path);
    } catch (err) {
      throw new NatsCredentialsError(`cannot read NATS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const out: Partial<ConnectionOptions> = {};
  if (set(creds.user)) {
    out.user = creds.user;
    out.pass = creds.password ?? "";
  } else if (set(creds.token)) {
    out.token = creds.token;
  } else if (set(creds.nkeySeedFile)) {
    const seed = new TextDecoder().decode(read(creds.nkeySeedFile, "NKey seed file")).trim();
    out.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  } else if (set(creds.credsFile)) {
    out.authenticator = credsAuthenticator(read(creds.credsFile, "creds file"));
  }
  if (set(creds.tlsCaFile) || set(creds.tlsCertFile)) {
    out.tls = {
      ...(set(creds.tlsCaFile) ? { caFile: creds.tlsCaFile } : {}),
      ...(set(creds.tlsCertFile) ? { certFile: creds.tlsCertFile, keyFile: creds.tlsKeyFile! } : {}),
    };
  }
  return out;
}
