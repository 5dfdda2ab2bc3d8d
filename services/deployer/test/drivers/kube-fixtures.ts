import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The repository's deploy/ folder (CRDs and RBAC applied in tests exactly as users apply them). */
export const DEPLOY_DIR = join(import.meta.dirname, "..", "..", "..", "..", "deploy");

export const readDeploy = (file: string): string => readFileSync(join(DEPLOY_DIR, file), "utf8");

/** A model-server Deployment (nothing runs it: kwok makes its Pods Running and Ready). */
export function deploymentYaml(name: string, replicas: number, labels: Record<string, string> = {}): string {
  const extra = Object.entries(labels)
    .map(([k, v]) => `\n        ${k}: "${v}"`)
    .join("");
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}${extra}
      annotations:
        inferd.io/kv-events-port: "5557"
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          ports:
            - containerPort: 8000
`;
}
