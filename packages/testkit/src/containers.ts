import { existsSync } from "node:fs";

/**
 * Whether tests should use Testcontainers: only when a Docker engine answers. The socket check
 * comes first because asking Testcontainers on a machine without an engine costs seconds.
 * INFERD_TESTKIT_CONTAINERS=0 forces local binaries, =1 forces containers.
 */
export async function containersAvailable(): Promise<boolean> {
  const forced = process.env.INFERD_TESTKIT_CONTAINERS;
  if (forced === "0") return false;
  if (forced !== "1" && !process.env.DOCKER_HOST && !existsSync("/var/run/docker.sock")) return false;
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    const client = await getContainerRuntimeClient();
    await client.info;
    return true;
  } catch {
    return false;
  }
}
