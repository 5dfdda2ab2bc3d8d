import { execFileSync } from "node:child_process";

/** How to install each external server on Debian, for the error a missing binary produces. */
const INSTALL_HINTS: Record<string, string> = {
  "nats-server": "apt-get install -y nats-server   (or: go install github.com/nats-io/nats-server/v2@latest)",
  "redis-server": "apt-get install -y redis-server",
  promtool: "apt-get install -y prometheus",
};

/** The absolute path of `name` on PATH; throws with the install command when it is missing. */
export function requireBinary(name: string, envOverride?: string): string {
  const override = envOverride ? process.env[envOverride] : undefined;
  if (override) return override;
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
  } catch {
    const hint = INSTALL_HINTS[name] ?? `install ${name}`;
    throw new Error(`${name} is required but was not found on PATH. Install it with: ${hint}`);
  }
}
