import type { RedisCredentials } from "@inferd/service-kit";
import { Cluster, Redis } from "ioredis";
import type { BlockIndex, IndexLimits } from "./block-index.ts";
import { InMemoryBlockIndex } from "./in-memory.ts";
import { RedisBlockIndex } from "./redis.ts";

export interface IndexConfig {
  backend: "memory" | "redis";
  /** redis://host:port[/db] of a standalone Redis or Valkey. */
  redisUrl?: string;
  /** Seed nodes (host:port) of a Redis Cluster; when given, redisUrl is ignored. */
  redisClusterNodes?: string[];
  /** ACL user / password and TLS (`redisCredentialsOf`), for standalone and cluster alike. */
  credentials?: RedisCredentials;
}

/**
 * How a Redis link behaves while Redis is away. "write" (the indexer): commands wait and are
 * retried until Redis is back, the work is held, not lost. "read" (lookups): fail fast, so a
 * scorer gets an error within `readTimeoutMs` instead of hanging on a dead store.
 */
export type RedisRole = "write" | "read";

/** Builds the configured backend. */
export function createIndex(
  config: IndexConfig,
  role: RedisRole = "write",
  readTimeoutMs = 250,
  limits: IndexLimits = {},
): BlockIndex {
  if (config.backend === "memory") return new InMemoryBlockIndex(limits);
  const auth = config.credentials ?? {};
  const options = {
    ...(auth.username !== undefined ? { username: auth.username } : {}),
    ...(auth.password !== undefined ? { password: auth.password } : {}),
    ...(auth.tls !== undefined ? { tls: auth.tls } : {}),
    ...(role === "write"
      ? { maxRetriesPerRequest: null, enableAutoPipelining: true }
      : { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: readTimeoutMs }),
  };
  if (config.redisClusterNodes && config.redisClusterNodes.length > 0) {
    const nodes = config.redisClusterNodes.map((n) => {
      const [host, port] = n.replace(/^redis:\/\//, "").split(":");
      return { host: host || "127.0.0.1", port: Number(port || 6379) };
    });
    return new RedisBlockIndex(
      new Cluster(nodes, {
        redisOptions: options,
        enableAutoPipelining: role === "write",
        enableOfflineQueue: role === "write",
      }),
      limits,
    );
  }
  return new RedisBlockIndex(new Redis(config.redisUrl ?? "redis://127.0.0.1:6379", options), limits);
}
