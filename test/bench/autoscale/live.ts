/**
 * `inferd bench autoscale --live`: the same controller on real processes in wall-clock time.
 * nats-server, the gateway and the autoscaler run as processes; a test actuator (standing in for
 * the deployer) follows INFERD_DECISIONS, starts model-sim servers with a start-up delay and
 * registers them in INFERD_ENDPOINTS; a load generator sends a step burst (x4) through the
 * gateway. Prints every decision as it comes and the SLO attainment measured by the gateway.
 */
import { join } from "node:path";
import {
  connectNats,
  DeliverPolicy,
  deleteEndpoint,
  jetstream,
  type NatsConnection,
  openKv,
  putEndpoint,
} from "@inferd/bus";
import { type SimServerHandle, startSimServer } from "@inferd/model-sim";
import {
  BUCKETS,
  create,
  decode,
  EndpointRole,
  EndpointSchema,
  RequestEventSchema,
  RequestPhase,
  ScaleDecisionSchema,
  STREAMS,
  subjects,
  timestampNow,
} from "@inferd/protocol";
import { freePort, type ManagedProcess, startNats, startProcess, waitFor } from "@inferd/testkit";
import { request } from "undici";

const ROOT = join(import.meta.dirname, "../../..");
const MODEL = "Qwen/Qwen3-32B";

export interface LiveOptions {
  readonly startupSeconds: number;
  readonly baseRps: number;
  /** Seconds before, during and after the x4 burst. */
  readonly phases: readonly [number, number, number];
}

export async function runLive(o: LiveOptions): Promise<void> {
  const t0 = Date.now();
  const at = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  const say = (s: string) => process.stdout.write(`${at()} s  ${s}\n`);
  const nats = await startNats();
  const procs: ManagedProcess[] = [];
  const sims: { sim: SimServerHandle; pod: string }[] = [];
  let nc: NatsConnection | undefined;
  try {
    const gwPort = await freePort();
    const gateway = `http://127.0.0.1:${gwPort}`;
    procs.push(
      startProcess({
        command: process.execPath,
        args: [join(ROOT, "services/gateway/src/main.ts")],
        env: {
          ...process.env,
          INFERD_GATEWAY_NATS_URL: nats.url,
          INFERD_GATEWAY_PORT: String(gwPort),
          INFERD_GATEWAY_USE_SCORER: "false",
          INFERD_GATEWAY_LOG_LEVEL: "warn",
          INFERD_GATEWAY_MODELS: JSON.stringify({ [MODEL]: { noEndpointTtlMs: 120_000 } }),
        },
      }),
    );
    await waitFor(() => request(`${gateway}/readyz`).then((r) => r.statusCode === 200), {
      timeoutMs: 30_000,
    });
    const asPort = await freePort();
    procs.push(
      startProcess({
        command: process.execPath,
        args: [join(ROOT, "services/autoscaler/src/main.ts")],
        env: {
          ...process.env,
          INFERD_AUTOSCALER_NATS_URL: nats.url,
          INFERD_AUTOSCALER_OPS_PORT: String(asPort),
          INFERD_AUTOSCALER_LOG_LEVEL: "warn",
          INFERD_AUTOSCALER_POOLS: JSON.stringify([
            {
              model: MODEL,
              pool: "default",
              minReplicas: 1,
              maxReplicas: 6,
              ttftSeconds: 2,
              itlSeconds: 0.1,
              percentile: 0.99,
              targetUtilization: 0.9,
              startupSeconds: o.startupSeconds,
              windowSeconds: 20,
              scaleDownStabilizationSeconds: 60,
            },
          ]),
        },
      }),
    );
    await waitFor(() => request(`http://127.0.0.1:${asPort}/readyz`).then((r) => r.statusCode === 200), {
      timeoutMs: 30_000,
    });
    nc = await connectNats({ servers: nats.url, name: "bench-live" });
    const conn = nc;
    const kv = await openKv(conn, BUCKETS.endpoints, { history: 1 });

    // Test actuator.
    let next = 0;
    const register = async (s: SimServerHandle, pod: string, ready: boolean) =>
      putEndpoint(
        kv,
        create(EndpointSchema, {
          model: MODEL,
          pod,
          address: s.url,
          role: EndpointRole.BOTH,
          ready,
          pool: "default",
          updatedAt: timestampNow(),
        }),
      );
    const scaleTo = async (n: number) => {
      while (sims.length < n) {
        const pod = `live-${next++}`;
        const sim = await startSimServer({
          port: 0,
          model: MODEL,
          servedModelNames: [MODEL],
          podName: pod,
          profile: "qwen3-32b-h100-tp2",
          // Few seats per replica so that a few requests per second need several replicas.
          maxNumSeqs: 4,
          startupDelayMs: o.startupSeconds * 1000,
          logLevel: "warn",
        });
        sims.push({ sim, pod });
        await register(sim, pod, false);
        void sim.ready.then(() => register(sim, pod, true));
      }
      while (sims.length > n) {
        const { sim, pod } = sims.pop()!;
        await deleteEndpoint(kv, MODEL, pod);
        setTimeout(() => void sim.close(), 30_000).unref();
      }
    };
    const consumer = await waitFor(() =>
      jetstream(conn).consumers.get(STREAMS.decisions, { deliver_policy: DeliverPolicy.New }),
    );
    const decisions = await consumer.consume();
    void (async () => {
      for await (const m of decisions) {
        const d = decode(ScaleDecisionSchema, m.data);
        say(`decision ${d.currentReplicas} -> ${d.desiredReplicas}: ${d.reason}`);
        await scaleTo(d.desiredReplicas);
      }
    })();

    // Outcomes as the gateway measured them.
    let met = 0;
    let total = 0;
    const sub = conn.subscribe(subjects().requestsAll());
    void (async () => {
      for await (const m of sub) {
        const ev = decode(RequestEventSchema, m.data);
        if (ev.phase === RequestPhase.COMPLETED) {
          total++;
          if (ev.ttftSeconds <= 2 && ev.itlMeanSeconds <= 0.1) met++;
        } else if (ev.phase === RequestPhase.FAILED) total++;
      }
    })();

    // Load: Poisson arrivals at base, x4, base.
    const [before, burst, after] = o.phases;
    const end = before + burst + after;
    const inflight: Promise<unknown>[] = [];
    const start = Date.now();
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let t = 0;
    let lastReport = 0;
    while (t < end) {
      const rate = t >= before && t < before + burst ? o.baseRps * 4 : o.baseRps;
      t += -Math.log(1 - rand()) / rate;
      const wait = start + t * 1000 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (t - lastReport >= 30) {
        lastReport = t;
        say(`load ${rate} req/s, ${sims.length} replicas, ${met}/${total} requests met the SLO so far`);
      }
      inflight.push(
        request(`${gateway}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: MODEL,
            messages: [{ role: "user", content: `Request ${t.toFixed(3)}: summarise the plan in detail.` }],
            max_tokens: 48 + Math.floor(rand() * 64),
            stream: true,
          }),
          headersTimeout: 180_000,
          bodyTimeout: 180_000,
        })
          .then((r) => r.body.dump())
          .catch(() => undefined),
      );
    }
    await Promise.all(inflight);
    await waitFor(() => total >= inflight.length, { timeoutMs: 10_000 }).catch(() => undefined);
    say(
      `done: ${total} requests, ${met} met TTFT <= 2 s and mean ITL <= 100 ms (${((met / Math.max(1, total)) * 100).toFixed(1)}%), ${sims.length} replicas at the end`,
    );
    sub.unsubscribe();
    await decisions.close();
  } finally {
    await nc?.close();
    for (const p of procs.reverse()) await p.stop();
    for (const s of sims) await s.sim.close();
    await nats.dispose();
  }
}
