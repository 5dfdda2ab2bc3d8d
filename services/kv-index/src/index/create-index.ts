import { Cluster, Redis } from "ioredis";
import type { BlockIndex } from "./block-index.ts";
import { InMemoryBlockIndex } from "./in-memory.ts";
import { RedisBlockIndex } from "./redis.ts";

export interface IndexConfig {
  backend: "memory" | "redis";
  /** redis://host:port[/db] of a standalone Redis or Valkey. */
  redisUrl?: string;
  /** Seed nodes (host:port) of a Redis Cluster; when given, redisUrl is ignored. */
  redisClusterNodes?: string[];
}

/** Builds the configured backend. Redis links reconnect forever; commands wait while down. */
export function createIndex(config: IndexConfig): BlockIndex {
  if (config.backend === "memory") return new InMemoryBlockIndex();
  const options = {
    // Keep retrying: the indexer holds its work until Redis is back (then checks the generation).
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
  };
  if (config.redisClusterNodes && config.redisClusterNodes.length > 0) {
    const nodes = config.redisClusterNodes.map((n) => {
      const [host, port] = n.replace(/^redis:\/\//, "").split(":");
      return { host: host || "127.0.0.1", port: Number(port || 6379) };
    });
    return new RedisBlockIndex(new Cluster(nodes, { redisOptions: options, enableAutoPipelining: true }));
  }
  return new RedisBlockIndex(new Redis(config.redisUrl ?? "redis://127.0.0.1:6379", options));
}
