import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connectNats } from "@inferd/bus";
import { freePort, freePortRange } from "@inferd/service-kit/free-port";
import { canConnect, requireBinary } from "@inferd/testkit";
import { repoRoot, serviceEntry } from "../repo.ts";
import { waitForDeployedSims } from "../up/deployed-sims.ts";
import { distinctPorts } from "../up/distinct-ports.ts";
import { httpOk } from "../up/probes.ts";
import { registerSims } from "../up/register-sims.ts";
import {
  DEFAULT_KV_EVENTS_TOPIC,
  DEFAULT_PORTS,
  deployerEnv,
  gatewayScorerEnv,
  type PortPlan,
  planSims,
  type SimServerPlan,
  serviceEnv,
  serviceProcesses,
  type UpOptions,
} from "../up/stack-plan.ts";
import { type ComponentSpec, Supervisor } from "../up/supervisor.ts";

export const UP_HELP = `inferd up [options]   run the whole stack locally (Ctrl-C stops it)

  --sims N              simulated vLLM servers (default 4)
  --model NAME          served model (default Qwen/Qwen3-32B)
  --profile NAME        simulator latency profile (default qwen3-32b-h100-tp2)
  --kv-events-encoding  array (vLLM <= 0.23) | map (0.24+) (default map)
  --kv-events-topic T   topic of the simulators' KV events (default kv@{pod}@{model}, llm-d's; kv-index
                        reads pod and model from it). "" is vLLM's default, which vllm-router needs
  --ports auto          pick free ports instead of the defaults (4222, 6379, 8080, 8000.., 5557..)
  --state-dir DIR       JetStream store and runtime files (default .inferd/)
  --sim-mode MODE       deployer (default: the deployer runs one process per simulator and scales the
                        pool on ScaleDecisions) | fleet (one static process serves every simulator)
                        | processes (one static process each)
  --on-exit MODE        restart (default: a part that dies is restarted with backoff) |
                        stop (a part dying stops the stack) | continue (leave it down)
  --services LIST       inferd services to run: all (default), none, or e.g. kv-index,scorer
                        (kv-index, scorer, gateway, autoscaler)
  --autoscale           let the autoscaler resize the deployer's pool (1..max(8, 2 x --sims));
                        without it the pool is pinned at --sims
  --scorer-replicas N   scorer processes sharing the pick queue group (default 1)
  --gateway-replicas N  gateway processes, each on its own port (default 1; all listed on the ready line)
  --scorer-mode MODE    nats (default: scorer processes answer picks over NATS) | embedded (each
                        gateway runs the scorer in its own process; no scorer process)
  --nats-url URLS       use this NATS (comma-separated URLs of a cluster) instead of starting one
  --redis-cluster-nodes LIST
                        use this Redis Cluster (host:port seeds) instead of starting a redis-server
`;

/** Ports handed out by `--ports auto` so far (every component's must differ). */
const autoPortsTaken = new Set<number>();

async function planPorts(mode: UpOptions["ports"], sims: number): Promise<PortPlan> {
  if (mode === "default") return DEFAULT_PORTS;
  const n = Math.max(sims, 1);
  // One range for the simulators' HTTP, event and replay ports, so they can never overlap.
  const base = await freePortRange(3 * n);
  for (let p = base; p < base + 3 * n; p++) autoPortsTaken.add(p);
  const [nats, natsMonitor, redis, gateway, scorer, kvIndex, autoscaler, deployer] = await distinctPorts(
    8,
    freePort,
    autoPortsTaken,
  );
  return {
    nats: nats!,
    natsMonitor: natsMonitor!,
    redis: redis!,
    gateway: gateway!,
    scorer: scorer!,
    kvIndex: kvIndex!,
    autoscaler: autoscaler!,
    deployer: deployer!,
    simHttp: base,
    simEvents: base + n,
    simReplay: base + 2 * n,
  };
}

export function parseUpArgs(argv: string[]): UpOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      sims: { type: "string", default: "4" },
      model: { type: "string", default: "Qwen/Qwen3-32B" },
      profile: { type: "string", default: "qwen3-32b-h100-tp2" },
      "kv-events-encoding": { type: "string", default: "map" },
      "kv-events-topic": { type: "string", default: DEFAULT_KV_EVENTS_TOPIC },
      ports: { type: "string", default: "default" },
      "state-dir": { type: "string", default: join(repoRoot(), ".inferd") },
      "hash-seed": { type: "string", default: "0" },
      "sim-mode": { type: "string", default: "deployer" },
      "on-exit": { type: "string", default: "restart" },
      autoscale: { type: "boolean", default: false },
      services: { type: "string", default: "all" },
      "scorer-replicas": { type: "string", default: "1" },
      "gateway-replicas": { type: "string", default: "1" },
      "scorer-mode": { type: "string", default: "nats" },
      "nats-url": { type: "string" },
      "redis-cluster-nodes": { type: "string" },
    },
    strict: true,
  });
  const sims = Number(values.sims);
  if (!Number.isInteger(sims) || sims < 0 || sims > 256)
    throw new Error(`--sims: must be an integer 0..256, got "${values.sims}"`);
  const encoding = values["kv-events-encoding"];
  if (encoding !== "array" && encoding !== "map")
    throw new Error(`--kv-events-encoding: must be array or map, got "${encoding}"`);
  if (values.ports !== "default" && values.ports !== "auto")
    throw new Error(`--ports: must be default or auto, got "${values.ports}"`);
  const simMode = values["sim-mode"];
  if (simMode !== "deployer" && simMode !== "fleet" && simMode !== "processes")
    throw new Error(`--sim-mode: must be deployer, fleet or processes, got "${simMode}"`);
  const onExit = values["on-exit"];
  if (onExit !== "restart" && onExit !== "stop" && onExit !== "continue")
    throw new Error(`--on-exit: must be restart, stop or continue, got "${onExit}"`);
  const services = parseServiceList(values.services);
  const replicas = (flag: "scorer-replicas" | "gateway-replicas") => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 1 || n > 16)
      throw new Error(`--${flag}: must be an integer 1..16, got "${values[flag]}"`);
    return n;
  };
  const scorerReplicas = replicas("scorer-replicas");
  const gatewayReplicas = replicas("gateway-replicas");
  const scorerMode = values["scorer-mode"];
  if (scorerMode !== "nats" && scorerMode !== "embedded")
    throw new Error(`--scorer-mode: must be nats or embedded, got "${scorerMode}"`);
  if (scorerMode === "embedded" && scorerReplicas !== 1)
    throw new Error("--scorer-replicas: not with --scorer-mode embedded (each gateway runs its own scorer)");
  return {
    scorerReplicas,
    scorerMode,
    gatewayReplicas,
    sims,
    services,
    model: values.model,
    profile: values.profile,
    kvEventsEncoding: encoding,
    kvEventsTopic: values["kv-events-topic"],
    ports: values.ports,
    stateDir: values["state-dir"],
    hashSeed: values["hash-seed"],
    simMode,
    onExit,
    autoscale: values.autoscale === true,
    ...(values["nats-url"] ? { natsUrl: values["nats-url"] } : {}),
    ...(values["redis-cluster-nodes"]
      ? { redisClusterNodes: values["redis-cluster-nodes"].split(",").filter((n) => n.length > 0) }
      : {}),
  };
}

export async function runUp(argv: string[]): Promise<number> {
  const options = parseUpArgs(argv);
  const ports = await planPorts(options.ports, options.sims);
  mkdirSync(join(options.stateDir, "jetstream"), { recursive: true });
  const natsUrl = options.natsUrl ?? `nats://127.0.0.1:${ports.nats}`;
  const redisCluster = options.redisClusterNodes;
  // In deployer mode the servers are the deployer's: their ports and names come from the inventory.
  let sims = options.simMode === "deployer" ? [] : planSims(options, ports);
  const node = process.execPath;

  const components: ComponentSpec[] = [];
  // External servers (e.g. a 3-node NATS cluster, a Redis Cluster) are not supervised here.
  if (!options.natsUrl) {
    components.push({
      name: "nats",
      command: requireBinary("nats-server", "INFERD_NATS_SERVER_BIN"),
      args: [
        "-a",
        "127.0.0.1",
        "-p",
        String(ports.nats),
        "-m",
        String(ports.natsMonitor),
        "-js",
        "-sd",
        join(options.stateDir, "jetstream"),
      ],
      ready: () => httpOk(`http://127.0.0.1:${ports.natsMonitor}/healthz`),
    });
  }
  if (!redisCluster) {
    components.push({
      name: "redis",
      command: requireBinary("redis-server", "INFERD_REDIS_SERVER_BIN"),
      args: ["--port", String(ports.redis), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      ready: () => canConnect("127.0.0.1", ports.redis),
    });
  }
  const simEntry = serviceEntry("model-sim");
  if (simEntry && sims.length > 0) components.push(...simComponents(simEntry, options, ports, sims));
  const deployerEntry = serviceEntry("deployer");
  if (options.simMode === "deployer") {
    if (!deployerEntry) throw new Error("--sim-mode deployer: services/deployer is not in this checkout");
    components.push({
      name: "deployer",
      command: node,
      args: [deployerEntry],
      env: { ...process.env, PYTHONHASHSEED: options.hashSeed, ...deployerEnv(options, ports) },
      ready: () => httpOk(`http://127.0.0.1:${ports.deployer}/readyz`),
    });
  }
  // Each service's own variable names (see its README): port keys differ by role.
  const serviceSpecs: Array<{ name: string; port: number; env: Record<string, string> }> = [
    {
      name: "kv-index",
      port: ports.kvIndex,
      env: {
        INFERD_KV_INDEX_HTTP_PORT: String(ports.kvIndex),
        ...(redisCluster
          ? { INFERD_KV_INDEX_REDIS_CLUSTER_NODES: redisCluster.join(",") }
          : { INFERD_KV_INDEX_REDIS_URL: `redis://127.0.0.1:${ports.redis}` }),
        // The simulators bind their PUB sockets (vLLM's default); kv-index connects to each one
        // it finds in the endpoint inventory.
        INFERD_KV_INDEX_ZMQ_MODE: "connect",
      },
    },
    {
      name: "scorer",
      port: ports.scorer,
      env: {
        INFERD_SCORER_OPS_PORT: String(ports.scorer),
        // The scorer's index replica starts from kv-index's Redis copy (same keys as kv-index),
        // then follows the stream.
        ...(redisCluster
          ? { INFERD_SCORER_REDIS_CLUSTER_NODES: redisCluster.join(",") }
          : { INFERD_SCORER_REDIS_URL: `redis://127.0.0.1:${ports.redis}` }),
      },
    },
    { name: "gateway", port: ports.gateway, env: { INFERD_GATEWAY_PORT: String(ports.gateway) } },
    {
      name: "autoscaler",
      port: ports.autoscaler,
      env: {
        INFERD_AUTOSCALER_OPS_PORT: String(ports.autoscaler),
        // The deployer's pool. Pinned to --sims unless --autoscale, so benchmarks and tests on
        // `inferd up` keep the fleet they asked for; with --autoscale the loop is live.
        INFERD_AUTOSCALER_POOLS: JSON.stringify(
          options.autoscale
            ? [
                {
                  model: options.model,
                  pool: "default",
                  minReplicas: 1,
                  maxReplicas: Math.max(8, 2 * options.sims),
                },
              ]
            : options.sims > 0
              ? [
                  {
                    model: options.model,
                    pool: "default",
                    minReplicas: options.sims,
                    maxReplicas: options.sims,
                  },
                ]
              : [],
        ),
      },
    },
  ];
  const gatewaySpec = serviceSpecs.find((s) => s.name === "gateway")!;
  Object.assign(
    gatewaySpec.env,
    gatewayScorerEnv(options, serviceSpecs.find((s) => s.name === "scorer")!.env),
  );
  const processes = serviceProcesses(options);
  const started: string[] = [];
  for (const svc of serviceSpecs) {
    if (!processes.includes(svc.name)) continue;
    const entry = serviceEntry(svc.name);
    if (!entry) continue;
    components.push({
      name: svc.name,
      command: node,
      args: [entry],
      env: {
        ...process.env,
        ...serviceEnv(svc.name, ports, svc.env),
      },
      ready: () => httpOk(`http://127.0.0.1:${svc.port}/readyz`),
    });
    started.push(svc.name);
  }
  // Further replicas of the scorer and the gateway, on ports of their own.
  const extraGateways: string[] = [];
  const extraScorers: string[] = [];
  for (const [service, count] of [
    ["scorer", options.scorerReplicas],
    ["gateway", options.gatewayReplicas],
  ] as const) {
    const entry = serviceEntry(service);
    if (!entry || !processes.includes(service)) continue;
    for (let i = 2; i <= count; i++) {
      const port =
        options.ports === "auto"
          ? (await distinctPorts(1, freePort, autoPortsTaken))[0]!
          : (service === "scorer" ? ports.scorer : ports.gateway) + 100 * (i - 1);
      const spec = serviceSpecs.find((s) => s.name === service)!;
      const env =
        service === "scorer"
          ? { ...spec.env, INFERD_SCORER_OPS_PORT: String(port) }
          : { ...spec.env, INFERD_GATEWAY_PORT: String(port) };
      components.push({
        name: `${service}-${i}`,
        command: node,
        args: [entry],
        env: { ...process.env, ...serviceEnv(service, ports, env) },
        ready: () => httpOk(`http://127.0.0.1:${port}/readyz`),
      });
      (service === "scorer" ? extraScorers : extraGateways).push(`http://127.0.0.1:${port}`);
    }
  }

  if (options.natsUrl) useExternalNats(components, options.natsUrl);
  const supervisor = new Supervisor(
    components.map((c) => c.name),
    {
      colour: process.stdout.isTTY,
      onComponentExit: options.onExit,
      onStop: (reason) => process.stdout.write(`inferd up: stopping (${reason})\n`),
    },
  );
  let unregister: (() => Promise<void>) | undefined;
  const stop = (reason: string) => {
    void (async () => {
      await unregister?.().catch(() => undefined);
      await supervisor.stop(reason);
    })();
  };
  process.once("SIGINT", () => stop("Ctrl-C"));
  process.once("SIGTERM", () => stop("SIGTERM"));

  try {
    for (const component of components) {
      await supervisor.start(component);
      if (component.name === "deployer") {
        const nc = await connectNats({ servers: natsUrl, name: "inferd-up" });
        try {
          sims = await waitForDeployedSims(nc, options.model, options.sims, 120_000);
        } finally {
          await nc.close();
        }
      }
      if (component.name === lastSimName(options, sims)) {
        const nc = await connectNats({ servers: natsUrl, name: "inferd-up" });
        const remove = await registerSims(nc, options.model, sims);
        unregister = async () => {
          await remove();
          await nc.close();
        };
      }
    }
  } catch (err) {
    process.stderr.write(`inferd up: ${(err as Error).message}\n`);
    await supervisor.stop("start-up failed");
    return 1;
  }

  const addresses = {
    gateway: started.includes("gateway") ? `http://127.0.0.1:${ports.gateway}` : undefined,
    // Every gateway and scorer replica (the first is `gateway` / `scorer`).
    gateways: started.includes("gateway") ? [`http://127.0.0.1:${ports.gateway}`, ...extraGateways] : [],
    scorers: started.includes("scorer") ? [`http://127.0.0.1:${ports.scorer}`, ...extraScorers] : [],
    nats: natsUrl,
    redis: redisCluster ? redisCluster.join(",") : `redis://127.0.0.1:${ports.redis}`,
    scorer: started.includes("scorer") ? `http://127.0.0.1:${ports.scorer}` : undefined,
    kvIndex: started.includes("kv-index") ? `http://127.0.0.1:${ports.kvIndex}` : undefined,
    autoscaler: started.includes("autoscaler") ? `http://127.0.0.1:${ports.autoscaler}` : undefined,
    sims: sims.map((s) => ({
      pod: s.pod,
      address: s.address,
      kvEvents: s.kvEventsEndpoint,
      kvReplay: s.kvReplayEndpoint,
    })),
    model: options.model,
    // embedded: the scorer runs in every gateway (its metrics are on the gateway's /metrics).
    scorerMode: options.scorerMode ?? "nats",
    pids: supervisor.pids(),
    simMode: options.simMode,
  };
  process.stdout.write(renderBanner(addresses));
  // One machine-readable line for scripts and the end-to-end tests.
  process.stdout.write(`INFERD_UP_READY ${JSON.stringify(addresses)}\n`);
  const reason = await supervisor.stopped;
  return reason === "Ctrl-C" || reason === "SIGTERM" ? 0 : 1;
}

/** Points every part's NATS URL (set by serviceEnv) at the external NATS given by --nats-url. */
function useExternalNats(components: ComponentSpec[], natsUrl: string): void {
  for (const c of components) {
    if (!c.env) continue;
    for (const key of Object.keys(c.env)) if (/^INFERD_[A-Z0-9_]+_NATS_URL$/.test(key)) c.env[key] = natsUrl;
  }
}

function renderBanner(a: {
  gateway?: string | undefined;
  nats: string;
  redis: string;
  scorer?: string | undefined;
  scorerMode: string;
  kvIndex?: string | undefined;
  autoscaler?: string | undefined;
  sims: { pod: string; address: string }[];
  model: string;
}): string {
  const lines = [
    "",
    "inferd is up.",
    a.gateway ? `  OpenAI base URL  ${a.gateway}/v1` : "  (no gateway service yet)",
    `  NATS             ${a.nats}`,
    `  Redis            ${a.redis}`,
    ...(a.scorer ? [`  scorer           ${a.scorer}/metrics`] : []),
    ...(a.scorerMode === "embedded" && a.gateway
      ? [`  scorer           embedded in the gateway (${a.gateway}/metrics)`]
      : []),
    ...(a.kvIndex ? [`  kv-index         ${a.kvIndex}/v1/lookup`] : []),
    ...(a.autoscaler ? [`  autoscaler       ${a.autoscaler}/metrics`] : []),
    `  model servers    ${a.sims.length} x ${a.model}${a.sims.length ? ` (${a.sims[0]!.address} ...)` : ""}`,
    "",
  ];
  if (a.gateway) {
    lines.push(
      "Try:",
      `  curl -s ${a.gateway}/v1/chat/completions -H 'content-type: application/json' \\`,
      `    -d '{"model":"${a.model}","messages":[{"role":"user","content":"Hello!"}],"max_tokens":32}'`,
      "",
    );
  }
  lines.push("Ctrl-C stops everything.", "");
  return lines.join("\n");
}

function simArgs(options: UpOptions, httpPort: number, eventsPort: number, replayPort: number): string[] {
  const kvEventsConfig = JSON.stringify({
    enable_kv_cache_events: true,
    publisher: "zmq",
    endpoint: `tcp://*:${eventsPort}`,
    replay_endpoint: `tcp://*:${replayPort}`,
    topic: options.kvEventsTopic ?? DEFAULT_KV_EVENTS_TOPIC,
  });
  return [
    "--port",
    String(httpPort),
    "--model",
    options.model,
    "--profile",
    options.profile,
    "--kv-events-config",
    kvEventsConfig,
    "--kv-events-encoding",
    options.kvEventsEncoding,
    "--prefix-caching-hash-algo",
    "sha256_cbor",
    // vLLM (and so the simulator, since it speaks 0.34) reports usage.prompt_tokens_details.cached_tokens
    // only with this flag; the gateway's cached-token accounting and the routing benchmark read it.
    "--enable-prompt-tokens-details",
  ];
}

/** The simulators as one fleet process, or one process each (so a test can kill one server). */
function simComponents(
  entry: string,
  options: UpOptions,
  ports: PortPlan,
  sims: readonly SimServerPlan[],
): ComponentSpec[] {
  const env = { ...process.env, PYTHONHASHSEED: options.hashSeed };
  if (options.simMode === "fleet") {
    return [
      {
        name: "model-sim",
        command: process.execPath,
        args: [
          entry,
          "--fleet",
          String(sims.length),
          ...simArgs(options, ports.simHttp, ports.simEvents, ports.simReplay),
        ],
        env,
        ready: async () => (await Promise.all(sims.map((s) => httpOk(`${s.address}/health`)))).every(Boolean),
        readyTimeoutMs: 60_000,
      },
    ];
  }
  return sims.map((sim) => ({
    name: sim.pod,
    command: process.execPath,
    args: [entry, "--pod-name", sim.pod, ...simArgs(options, sim.httpPort, sim.eventsPort, sim.replayPort)],
    env,
    ready: () => httpOk(`${sim.address}/health`),
    readyTimeoutMs: 60_000,
  }));
}

function lastSimName(options: UpOptions, sims: readonly SimServerPlan[]): string | undefined {
  if (sims.length === 0 || options.simMode === "deployer") return undefined;
  return options.simMode === "fleet" ? "model-sim" : sims[sims.length - 1]!.pod;
}

const STACK_SERVICES = ["kv-index", "scorer", "gateway", "autoscaler"];

function parseServiceList(text: string): string[] {
  if (text === "all") return STACK_SERVICES;
  if (text === "none") return [];
  const names = text.split(",").map((s) => s.trim());
  const unknown = names.filter((n) => !STACK_SERVICES.includes(n));
  if (unknown.length > 0)
    throw new Error(
      `--services: unknown ${unknown.join(", ")} (known: ${STACK_SERVICES.join(", ")}, all, none)`,
    );
  return names;
}
