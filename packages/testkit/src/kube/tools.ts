import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const TOOLS = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubectl",
  "kwok",
] as const;

export interface KubeTools {
  readonly binDir: string;
  /** kwok's stage definitions (node and pod life cycles). */
  readonly stages: string;
  bin(name: (typeof TOOLS)[number]): string;
}

function repoRoot(): string | undefined {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "pnpm-workspace.yaml"))) {
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return dir;
}

/**
 * The control-plane binaries built by scripts/build-kube-tools.sh (`./dev.sh setup` runs it) in
 * `.tools/kube/`, or in `$INFERD_KUBE_TOOLS_DIR`. Throws with the command to run when any is missing.
 */
export function requireKubeTools(): KubeTools {
  const root = repoRoot();
  const base = process.env.INFERD_KUBE_TOOLS_DIR ?? (root ? join(root, ".tools", "kube") : "");
  const binDir = join(base, "bin");
  const stages = join(base, "kwok-stages.yaml");
  const missing = TOOLS.filter((t) => !existsSync(join(binDir, t)));
  if (!existsSync(stages)) missing.push("kwok-stages.yaml" as never);
  if (missing.length > 0)
    throw new Error(
      `Kubernetes test tools missing in ${base}: ${missing.join(", ")}. Build them once with scripts/build-kube-tools.sh (./dev.sh setup does; ~10 min cold)`,
    );
  return { binDir, stages, bin: (name) => join(binDir, name) };
}
