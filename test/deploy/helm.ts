import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoTool } from "@inferd/testkit";
import { parseAllDocuments, stringify } from "yaml";

const run = promisify(execFile);
export const REPO = join(import.meta.dirname, "../..");
export const CHART = join(REPO, "deploy/charts/inferd");

/** A Kubernetes object as `helm template` renders it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
  spec?: any;
  data?: Record<string, string>;
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
}

function valuesFile(values: object): string {
  const file = join(mkdtempSync(join(tmpdir(), "inferd-chart-")), "values.yaml");
  writeFileSync(file, stringify(values));
  return file;
}

/** Runs the real helm binary (./dev.sh builds it into .tools/bin). */
export async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(repoTool("helm"), args, { maxBuffer: 64 * 1024 * 1024 });
}

export async function template(
  values: object = {},
  release = "inferd",
  namespace = "inferd",
): Promise<K8sObject[]> {
  const { stdout } = await helm([
    "template",
    release,
    CHART,
    "--namespace",
    namespace,
    "-f",
    valuesFile(values),
  ]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** helm's error for values it refuses (schema or template), or undefined when it renders. */
export async function templateError(values: object): Promise<string | undefined> {
  try {
    await template(values);
    return undefined;
  } catch (err) {
    return (err as { stderr?: string }).stderr ?? String(err);
  }
}

export async function lint(values: object = {}): Promise<string> {
  const { stdout } = await helm(["lint", "--strict", CHART, "-f", valuesFile(values)]);
  return stdout;
}

export function byKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function named(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(`no ${kind} ${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found;
}

/** Every config key a service's README documents (the backticked names in its config table rows). */
export function readmeConfigKeys(service: string): Set<string> {
  const readme = readFileSync(join(REPO, "services", service, "README.md"), "utf8");
  const keys = new Set<string>();
  for (const line of readme.split("\n")) {
    const cell = /^\|\s*(`[^|]+)\|/.exec(line)?.[1];
    if (!cell) continue;
    for (const m of cell.matchAll(/`([A-Za-z][A-Za-z0-9_]*)`/g)) keys.add(m[1]!);
  }
  return keys;
}
