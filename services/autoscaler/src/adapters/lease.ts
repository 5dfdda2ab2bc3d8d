import { type KV, type NatsConnection, openKv } from "@inferd/bus";
import type { Logger } from "@inferd/service-kit";

const KEY = "leader";

export interface Lease {
  readonly isLeader: boolean;
  /** Who holds the lease as last seen (own id when leader). */
  readonly holder: string;
  /** Gives the lease up at once (the standby need not wait for the TTL), then stops. */
  release(): Promise<void>;
}

/**
 * Leader election over a JetStream KV bucket whose TTL is the lease lifetime: the leader holds
 * the key `leader` and renews it (a compare-and-set on its revision) every third of the TTL; a
 * standby tries to create the key at the same pace and gets it once the dead leader's entry has
 * expired. A renewal that fails (someone else holds the key, or NATS is unreachable) demotes at
 * once, so two replicas never both believe they lead for longer than one renewal period.
 */
export async function holdLease(
  nc: NatsConnection,
  options: {
    bucket: string;
    /** Replicas of the lease bucket when this creates or raises it (streamReplicas). */
    replicas?: number;
    id: string;
    ttlMs: number;
    logger: Logger;
    onChange: (leader: boolean) => void;
  },
): Promise<Lease> {
  const kv: KV = await openKv(nc, options.bucket, {
    history: 1,
    ttl: options.ttlMs,
    replicas: options.replicas ?? 1,
  });
  const data = new TextEncoder().encode(options.id);
  let revision: number | undefined;
  let holder = "";
  let stopped = false;
  const set = (rev: number | undefined) => {
    const was = revision !== undefined;
    revision = rev;
    const is = revision !== undefined;
    if (was !== is) {
      options.logger.info(
        { id: options.id, leader: is },
        is ? "acquired the leader lease" : "lost the leader lease",
      );
      options.onChange(is);
    }
  };
  const round = async () => {
    if (stopped) return;
    try {
      if (revision !== undefined) {
        set(await kv.update(KEY, data, revision));
        holder = options.id;
        return;
      }
      set(await kv.create(KEY, data));
      holder = options.id;
    } catch {
      set(undefined);
      try {
        const e = await kv.get(KEY);
        holder = e && e.operation === "PUT" ? new TextDecoder().decode(e.value) : "";
      } catch {
        holder = "";
      }
    }
  };
  await round();
  const timer = setInterval(() => void round(), Math.max(200, Math.floor(options.ttlMs / 3)));
  return {
    get isLeader() {
      return revision !== undefined;
    },
    get holder() {
      return holder;
    },
    async release() {
      stopped = true;
      clearInterval(timer);
      if (revision !== undefined) {
        const rev = revision;
        set(undefined);
        await kv.delete(KEY, { previousSeq: rev }).catch(() => undefined);
      }
    },
  };
}
