import { readFileSync } from "node:fs";
import { list, str } from "./fields.ts";

/**
 * Config keys for a service's NATS and Redis credentials, the same in every service, so an
 * operator sets `INFERD_<SERVICE>_NATS_USER` (or the YAML key `natsUser`) the same way
 * everywhere. Spread into a service's spec; `natsCredentialsOf(config)` gives the object
 * `@inferd/bus`'s `connectNats({ credentials })` takes, `redisCredentialsOf(config)` the Redis
 * options. Secrets can also come from files (`...File` keys), which is how Kubernetes Secrets
 * are mounted.
 */
export function natsCredentialFields() {
  return {
    natsUser: str({ default: "", doc: "NATS user (with natsPassword)." }),
    natsPassword: str({ default: "", doc: "NATS password (prefer natsPasswordFile)." }),
    natsPasswordFile: str({ default: "", doc: "File holding the NATS password." }),
    natsToken: str({ default: "", doc: "NATS token (prefer natsTokenFile)." }),
    natsTokenFile: str({ default: "", doc: "File holding the NATS token." }),
    natsNkeySeedFile: str({ default: "", doc: "File holding a NATS user NKey seed (SU...)." }),
    natsCredsFile: str({ default: "", doc: "NATS .creds file (JWT + seed, operator mode)." }),
    natsTlsCaFile: str({ default: "", doc: "CA bundle that signs the NATS server certificate." }),
    natsTlsCertFile: str({ default: "", doc: "Client certificate for NATS servers that verify clients." }),
    natsTlsKeyFile: str({ default: "", doc: "Key of natsTlsCertFile." }),
  };
}

export function redisCredentialFields() {
  return {
    redisUsername: str({ default: "", doc: "Redis ACL user (default user when empty)." }),
    redisPassword: str({ default: "", doc: "Redis password (prefer redisPasswordFile)." }),
    redisPasswordFile: str({ default: "", doc: "File holding the Redis password." }),
    redisTlsCaFile: str({ default: "", doc: "CA bundle that signs the Redis server certificate (TLS on)." }),
    redisTlsCertFile: str({ default: "", doc: "Client certificate for Redis servers that verify clients." }),
    redisTlsKeyFile: str({ default: "", doc: "Key of redisTlsCertFile." }),
  };
}

/**
 * Where a service's Redis index lives and how to log in: `redisUrl` or `redisClusterNodes`, plus
 * the credential keys. kv-index (which writes the index) and the scorer (whose index replica reads
 * it at start) take the same keys, so one Secret and one set of values serve both.
 * `redisLinkOf(config)` gives what @inferd/block-index's `createIndex` takes.
 */
export function redisLinkFields(opts: { urlDefault: string; urlDoc: string }) {
  return {
    redisUrl: str({ default: opts.urlDefault, doc: opts.urlDoc }),
    redisClusterNodes: list({ default: [], doc: "host:port seeds of a Redis Cluster (overrides redisUrl)" }),
    ...redisCredentialFields(),
  };
}

type NatsKeys = { [K in keyof ReturnType<typeof natsCredentialFields>]: string };
type RedisKeys = { [K in keyof ReturnType<typeof redisCredentialFields>]: string };

/** A secret from its value or, when set, its file (trailing newline dropped). */
function secret(value: string, file: string, readFile: (path: string) => string): string {
  return file !== "" ? readFile(file).replace(/\r?\n$/, "") : value;
}

export function natsCredentialsOf(c: NatsKeys, readFile: (path: string) => string = readText) {
  return {
    user: c.natsUser,
    password: secret(c.natsPassword, c.natsPasswordFile, readFile),
    token: secret(c.natsToken, c.natsTokenFile, readFile),
    nkeySeedFile: c.natsNkeySeedFile,
    credsFile: c.natsCredsFile,
    tlsCaFile: c.natsTlsCaFile,
    tlsCertFile: c.natsTlsCertFile,
    tlsKeyFile: c.natsTlsKeyFile,
  };
}

export interface RedisCredentials {
  username?: string;
  password?: string;
  /** TLS options for ioredis (`tls`), undefined = plain TCP unless the URL is rediss://. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

export function redisCredentialsOf(
  c: RedisKeys,
  readFile: (path: string) => Buffer = readBytes,
): RedisCredentials {
  const out: RedisCredentials = {};
  if (c.redisUsername !== "") out.username = c.redisUsername;
  const password = secret(c.redisPassword, c.redisPasswordFile, (p) => readFile(p).toString("utf8"));
  if (password !== "") out.password = password;
  if (c.redisTlsCaFile !== "" || c.redisTlsCertFile !== "") {
    out.tls = {
      ...(c.redisTlsCaFile !== "" ? { ca: readFile(c.redisTlsCaFile) } : {}),
      ...(c.redisTlsCertFile !== "" ? { cert: readFile(c.redisTlsCertFile) } : {}),
      ...(c.redisTlsKeyFile !== "" ? { key: readFile(c.redisTlsKeyFile) } : {}),
    };
  }
  return out;
}

export interface RedisLink {
  redisUrl: string;
  redisClusterNodes: string[];
  credentials: RedisCredentials;
}

/** The Redis link the keys of `redisLinkFields` describe; undefined when neither URL nor cluster is set. */
export function redisLinkOf(
  c: RedisKeys & { redisUrl: string; redisClusterNodes: string[] },
  readFile: (path: string) => Buffer = readBytes,
): RedisLink | undefined {
  if (c.redisUrl === "" && c.redisClusterNodes.length === 0) return undefined;
  return {
    redisUrl: c.redisUrl,
    redisClusterNodes: c.redisClusterNodes,
    credentials: redisCredentialsOf(c, readFile),
  };
}

function readText(path: string): string {
  return readFileSync(path, "utf8");
}
function readBytes(path: string): Buffer {
  return readFileSync(path);
}
