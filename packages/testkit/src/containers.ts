import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

/**
 * The image the nats-server and redis-server test containers run: Debian's nats-server and
 * redis-server on the local Debian base, built by deploy/image/test-images.sh. Never pulled: no
 * image registry is assumed reachable.
 */
export const TEST_SERVERS_IMAGE = "inferd-testkit/servers:local";

export type ServerBackend = "containers" | "binaries";

const run = promisify(execFile);
let decided: Promise<ServerBackend> | undefined;

/**
 * Where the test servers run. Local binaries by default: they start in a fraction of a second and
 * every suite is tested with them. Containers of the local test image (never pulled) when
 * INFERD_TESTKIT_CONTAINERS=1, or when nats-server/redis-server are not installed but a Docker
 * engine answers and the image is built. Decided once per process; when an engine answers the
 * choice is said once on stderr, so the test output shows which. INFERD_TESTKIT_CONTAINERS=0 forces
 * local binaries.
 */
export function serverBackend(): Promise<ServerBackend> {
  decided ??= decide();
  return decided;
}

/** Kept for callers that only ask yes/no. */
export async function containersAvailable(): Promise<boolean> {
  return (await serverBackend()) === "containers";
}

async function decide(): Promise<ServerBackend> {
  const forced = process.env.INFERD_TESTKIT_CONTAINERS;
  if (forced === "0") return "binaries";
  const binaries = (await onPath("nats-server")) && (await onPath("redis-server"));
  if (forced !== "1" && binaries) return "binaries";
  if (forced !== "1" && !process.env.DOCKER_HOST && !existsSync("/var/run/docker.sock")) return "binaries";
  if (!(await engineAnswers())) {
    if (forced === "1") throw new Error("INFERD_TESTKIT_CONTAINERS=1 but no Docker engine answers");
    return "binaries";
  }
  if (!(await imageExists(TEST_SERVERS_IMAGE))) {
    const why = `the Docker engine answers but ${TEST_SERVERS_IMAGE} is not built (deploy/image/test-images.sh)`;
    if (forced === "1") throw new Error(`INFERD_TESTKIT_CONTAINERS=1 but ${why}`);
    process.stderr.write(`[testkit] ${why}: nats-server and redis-server run as local binaries\n`);
    return "binaries";
  }
  process.stderr.write(`[testkit] nats-server and redis-server run in containers of ${TEST_SERVERS_IMAGE}\n`);
  return "containers";
}

async function onPath(binary: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${binary}`]);
    return true;
  } catch {
    return false;
  }
}

async function engineAnswers(): Promise<boolean> {
  try {
    await run("docker", ["version", "--format", "{{.Server.Version}}"], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

async function imageExists(image: string): Promise<boolean> {
  try {
    await run("docker", ["image", "inspect", image], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Testcontainers, loaded with its reaper (Ryuk) off: Ryuk is an image from a registry, which is
 * never pulled here. The kits remove their own containers on dispose.
 */
export async function loadTestcontainers(): Promise<typeof import("testcontainers")> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  return import("testcontainers");
}
