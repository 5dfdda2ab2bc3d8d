import { spawn } from "node:child_process";
import { serviceEntry } from "../repo.ts";

/**
 * Runs a service's own entry point with the given arguments in the foreground (the CLI is a
 * package and never imports services). Resolves with its exit code; signals are forwarded.
 */
export function runService(service: string, args: string[]): Promise<number> {
  const entry = serviceEntry(service);
  if (!entry) {
    process.stderr.write(
      `inferd: the ${service} service is not part of this checkout (services/${service}/src/main.ts)\n`,
    );
    return Promise.resolve(1);
  }
  const child = spawn(process.execPath, [entry, ...args], { stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolve(code ?? (signal ? 128 + 15 : 1));
    });
  });
}
