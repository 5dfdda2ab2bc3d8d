import { readFile } from "node:fs/promises";
import { type EndpointInventory, type NatsConnection, watchEndpoints } from "@inferd/bus";
import { parseModelPod } from "@inferd/protocol";
import { type Logger, parseConfigYaml } from "@inferd/service-kit";
import { ConfigError } from "../framework/errors.ts";
import type { EndpointInfo, Role } from "../framework/types.ts";
import type { EndpointStore } from "../state/endpoints.ts";
import { endpointInfoFromMsg } from "./convert.ts";

/** Follows `<PREFIX>_ENDPOINTS` (the deployer's inventory) into the store; resolves once the current content is in. */
export async function followEndpointBucket(
  nc: NatsConnection,
  store: EndpointStore,
  opts: { logger: Logger; prefix?: string; replicas?: number; onRemove?: (pod: string) => void },
): Promise<EndpointInventory> {
  const inventory = await watchEndpoints(nc, {
    prefix: opts.prefix,
    replicas: opts.replicas,
    onChange: (key, ep) => {
      if (ep) {
        store.upsert(endpointInfoFromMsg(ep));
        opts.logger.debug({ key, ready: ep.ready }, "endpoint updated");
        return;
      }
      let removed: ReturnType<EndpointStore["remove"]>;
      try {
        const { model, pod } = parseModelPod(key);
        removed = store.remove(model, pod);
      } catch (err) {
        opts.logger.warn({ key, err: (err as Error).message }, "deleted inventory key is not <model>.<pod>");
        return;
      }
      if (removed) opts.onRemove?.(removed.pod);
      opts.logger.info({ key }, "endpoint removed");
    },
    onError: (err) => opts.logger.warn({ err: err.message }, "bad entry in endpoint inventory skipped"),
  });
  await inventory.initialized;
  return inventory;
}

/**
 * A static endpoint list for users without a deployer:
 * ```yaml
 * endpoints:
 * - {model: Qwen/Qwen3-32B, pod: vllm-0, address: http://10.0.0.7:8000, role: both,
 *    loraAdapters: [sql], kvEvents: true, blockSize: 16, ready: true}
 * ```
 */
export function parseStaticEndpoints(text: string, source: string): EndpointInfo[] {
  let doc: unknown;
  try {
    doc = parseConfigYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { endpoints?: unknown } | null)?.endpoints;
  if (!Array.isArray(list)) throw new ConfigError(`${source}: expected a list under "endpoints"`);
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const where = `${source}: endpoints[${i}]`;
    if (raw === null || typeof raw !== "object") throw new ConfigError(`${where} must be a mapping`);
    const e = raw as Record<string, unknown>;
    const str = (k: string, required: boolean): string => {
      const v = e[k];
      if (v === undefined && !required) return "";
      if (typeof v !== "string" || v.length === 0)
        throw new ConfigError(`${where}: "${k}" must be a non-empty string`);
      return v;
    };
    const model = str("model", true);
    const pod = str("pod", true);
    const address = str("address", true).replace(/\/+$/, "");
    if (!/^https?:\/\//.test(address))
      throw new ConfigError(`${where}: address must start with http:// or https://`);
    const role = (e.role ?? "both") as Role;
    if (!["both", "prefill", "decode"].includes(role))
      throw new ConfigError(`${where}: role must be both, prefill or decode`);
    const adapters = e.loraAdapters ?? [];
    if (!Array.isArray(adapters) || !adapters.every((a) => typeof a === "string")) {
      throw new ConfigError(`${where}: loraAdapters must be a list of names`);
    }
    const num = (k: string): number => {
      const v = e[k] ?? 0;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
        throw new ConfigError(`${where}: "${k}" must be an integer >= 0`);
      return v;
    };
    const key = `${model}\u0000${pod}`;
    if (seen.has(key)) throw new ConfigError(`${where}: pod "${pod}" of model "${model}" is listed twice`);
    seen.add(key);
    return {
      model,
      pod,
      address,
      role,
      loraAdapters: adapters as string[],
      ready: e.ready === undefined ? true : e.ready === true,
      labels: {},
      blockSize: num("blockSize"),
      publishesKvEvents: e.kvEvents === true,
      maxLoras: num("maxLoras"),
    };
  });
}

export async function loadStaticEndpoints(path: string, store: EndpointStore): Promise<void> {
  store.replaceAll(parseStaticEndpoints(await readFile(path, "utf8"), path));
}
