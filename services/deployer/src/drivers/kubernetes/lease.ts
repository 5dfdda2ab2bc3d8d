/** The fields of a coordination.k8s.io/v1 Lease that leader election reads. */
export interface LeaseView {
  holderIdentity?: string | undefined;
  renewTime?: Date | undefined;
  leaseDurationSeconds?: number | undefined;
}

/**
 * What a candidate does with the Lease now, as kube-controller-manager's elector does: renew its
 * own; take one that is free or expired; otherwise wait.
 */
export function leaseAction(
  lease: LeaseView | undefined,
  me: string,
  now: number,
): "create" | "renew" | "take" | "wait" {
  if (!lease) return "create";
  if (lease.holderIdentity === me) return "renew";
  if (!lease.holderIdentity) return "take";
  const renewed = lease.renewTime?.getTime() ?? 0;
  const durationMs = (lease.leaseDurationSeconds ?? 15) * 1_000;
  return now > renewed + durationMs ? "take" : "wait";
}
