import { createLogger, type Logger } from "@inferd/service-kit";
import { type SimServerHandle, type StartSimServerOptions, startSimServer } from "../src/server.ts";

export const silent: Logger = createLogger({ service: "model-sim-test", level: "silent" });

/** A simulator on an ephemeral port with the fast toy profile; closed by the returned cleanup. */
export async function startTestServer(over: StartSimServerOptions = {}): Promise<SimServerHandle> {
  return startSimServer({
    port: 0,
    profile: "tiny-fast",
    numGpuBlocksOverride: 2000,
    pythonHashSeed: "0",
    logger: silent,
    ...over,
  });
}

export interface JsonResponse {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response JSON
  json: Record<string, any>;
  headers: globalThis.Headers;
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, text, json: json as JsonResponse["json"], headers: res.headers };
}
