// Deployer entry point: wiring only (config -> run -> shutdown).
import { ConfigError, onShutdown } from "@inferd/service-kit";
import { loadDeployerConfig } from "./config.ts";
import { type RunningDeployer, runDeployer } from "./run.ts";

let deployer: RunningDeployer;
try {
  deployer = await runDeployer(loadDeployerConfig(process.argv.slice(2)), {
    // Each server's output, prefixed with its name, as `inferd up` shows its components.
    onOutput: (pod, line) => process.stdout.write(`[${pod}] ${line}\n`),
  });
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`deployer: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
// Draining local servers can take the drain grace period: give shutdown that long and more.
onShutdown(deployer.logger, [{ name: "deployer", run: () => deployer.stop() }], { deadlineMs: 60_000 });
