#!/usr/bin/env node
/**
 * `inferd bench chaos`: under steady load through `inferd up` (supervised: every part restarted
 * with backoff), kill -9 each part in turn and report requests failed, time until the part
 * serves again and time until the prefix-cache hit rate is back within 5% of before.
 * Wiring only: flags -> stack -> load -> runChaos -> table (and --json).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connectNats } from "@inferd/bus";
import { startStack } from "../../e2e/stack.ts";
import { renderControlPlane, runControlPlaneChaos } from "./control-plane.ts";
import { EngineBlocks } from "./engine-blocks.ts";
import { type FaultFigures, renderTable } from "./figures.ts";
import { IndexView } from "./kv-convergence.ts";
import { SteadyLoad } from "./load.ts";
import { renderLossTable } from "./loss-table.ts";
import { runChaos } from "./run.ts";
import { type FaultWindow, measureLosses, type RunLosses } from "./run-losses.ts";

const HELP = `inferd bench chaos [options]
  --sims N          model servers, one process each (default 4)
  --clients N       concurrent closed-loop clients (default 8)
  --targets LIST    parts to kill, in order (default kv-index,scorer,model-server,gateway,nats,redis,
                    autoscaler,deployer); autoscaler and deployer run on a second stack in deployer
                    mode with a standby autoscaler (the leader is killed; see control-plane.ts)
  --before N        successful requests before each kill (default 200)
  --after N         successful requests after the part is back (default 200)
  --fail-close      keep the gateway's default FailClose (default: FailOpen, as llm-d recommends for HA)
  --json FILE       also write the figures as JSON
  --cluster         the cluster run instead (3-node NATS, Redis Cluster; --cluster --help)
`;

// The cluster mode (3-node NATS, Redis Cluster, optionally 2 gateways and 2 scorers) lives in
// cluster-main.ts; this file keeps the single-node run.
if (process.argv.includes("--cluster")) {
  const { clusterMain } = await import("./cluster-main.ts");
  process.exit(await clusterMain(process.argv.slice(2)));
}
const { values } = parseArgs({
  options: {
    sims: { type: "string", default: "4" },
    clients: { type: "string", default: "8" },
    targets: { type: "string", default: "" },
    before: { type: "string", default: "200" },
    after: { type: "string", default: "200" },
    "fail-close": { type: "boolean", default: false },
    json: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const MODEL = "Qwen/Qwen3-32B";
const CONTROL_PLANE = ["autoscaler", "deployer"];
const requested = values.targets ? values.targets.split(",") : undefined;
const controlPlane = requested === undefined || requested.some((t) => CONTROL_PLANE.includes(t));
const stack = await startStack({
  sims: Number(values.sims),
  args: ["--sim-mode", "processes", "--profile", "tiny-fast"],
  env: values["fail-close"]
    ? {}
    : { INFERD_GATEWAY_MODEL_DEFAULTS: JSON.stringify({ failureMode: "FailOpen" }) },
  timeoutMs: 180_000,
});
// Before any load: engines start empty, so the witness sees every event from seq 0.
const witness = new EngineBlocks(stack.addresses.sims);
const load = new SteadyLoad({
  gateway: stack.addresses.gateway!,
  model: MODEL,
  clients: Number(values.clients),
  groups: 8,
  maxTokens: 4,
  requestIdPrefix: `chaos-${Date.now()}`,
  // Every request stores new blocks (and evicts old ones): KV events flow through every fault.
  questionWords: 48,
});
// "model-server" names the first simulated server (its pod name depends on the ports).
const targets = (requested ?? ["kv-index", "scorer", "model-server", "gateway", "nats", "redis"])
  .filter((t) => !CONTROL_PLANE.includes(t))
  .map((t) => (t === "model-server" ? stack.addresses.sims[0]!.pod : t));
process.stdout.write(
  `chaos: ${values.sims} model servers, ${values.clients} clients, killing ${targets.join(", ")}\n`,
);
load.start();
let code = 0;
let loadStopped = false;
let stackStopped = false;
try {
  const figures: FaultFigures[] = [];
  const windows: FaultWindow[] = [];
  for (const target of targets) {
    const fromMs = performance.now();
    figures.push(
      ...(await runChaos({ pids: stack.addresses.pids ?? {}, output: () => stack.output() }, load, [target], {
        before: Number(values.before),
        after: Number(values.after),
        readyTimeoutMs: 120_000,
      })),
    );
    windows.push({ target, fromMs, toMs: performance.now() });
  }
  await load.stop();
  loadStopped = true;
  process.stdout.write(
    "chaos: load stopped; waiting for the index to converge and every event to be stored\n",
  );
  const nc = await connectNats({ servers: stack.addresses.nats, name: "inferd-bench-chaos" });
  const view = new IndexView({ url: stack.addresses.redis });
  let losses: RunLosses;
  try {
    losses = await measureLosses({
      nc,
      witness,
      view,
      model: MODEL,
      pods: stack.addresses.sims.map((s) => s.pod),
      samples: load.samples,
      windows,
      autoscaler: stack.addresses.autoscaler,
      convergeTimeoutMs: 60_000,
    });
  } finally {
    await view.close();
    await nc.close();
    await witness.close();
  }
  // What kv-index did about the faults, from its log (explains a KV loss when there is one).
  const out = stack.output();
  const lines = (needle: string) => out.split("\n").filter((l) => l.includes(needle)).length;
  process.stdout.write(
    `chaos: kv-index log: ${lines("batch dropped")} batches dropped, ${lines("replaying them")} store replays, ${lines("rebuilding the index")} rebuilds, ${lines("engine restarted")} engine restarts\n`,
  );
  await stack.stop();
  stackStopped = true;
  let control: Awaited<ReturnType<typeof runControlPlaneChaos>> | undefined;
  if (controlPlane) {
    process.stdout.write("chaos: control plane (deployer mode, standby autoscaler)\n");
    control = await runControlPlaneChaos({
      sims: Number(values.sims),
      clients: Number(values.clients),
      before: Number(values.before),
      after: Number(values.after),
      log: (line) => process.stdout.write(`chaos: ${line}\n`),
    });
    figures.push(...control.faults);
  }
  process.stdout.write(`\n${renderTable(figures)}\n\n${renderLossTable(losses)}\n`);
  process.stdout.write(`chaos: KV missing/extra per engine: ${JSON.stringify(losses.kv.byPod)}\n`);
  if (control) process.stdout.write(`\n${renderControlPlane(control)}\n`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ figures, losses, control }, null, 2));
} catch (err) {
  process.stderr.write(`chaos: ${(err as Error).message}\n${stack.output().slice(-3000)}\n`);
  code = 1;
} finally {
  if (!loadStopped) await load.stop();
  if (!stackStopped) await stack.stop();
}
process.exit(code);
