import { decodeSeq, encodeSeq, isEndSeq } from "@inferd/kv-blocks";
import { Dealer } from "zeromq";
import type { ReplayedFrame } from "./ingest.ts";

export interface ReplayOptions {
  /** Give up when no reply frame arrives for this long (default 2 s). */
  timeoutMs?: number;
  /** Stop after this many batches (protects memory; vLLM keeps 10 000 by default). */
  maxBatches?: number;
}

/**
 * Asks a vLLM replay ROUTER for every buffered batch from `fromSeq`, with a DEALER socket
 * (a REQ socket would keep only the first reply: vLLM PR #45177).
 *
 * Request: `[b"", start_seq(8 bytes)]`. Replies after the empty delimiter are
 * `[seq, payload]` (vLLM <= v0.25) or `[topic, seq, payload]` (v0.26+, PR #45177); the end
 * marker has seq = -1 (eight 0xff bytes). Both layouts are told apart by frame count.
 */
export async function requestReplay(
  endpoint: string,
  fromSeq: bigint,
  options: ReplayOptions = {},
): Promise<ReplayedFrame[]> {
  const dealer = new Dealer({ receiveTimeout: options.timeoutMs ?? 2_000, linger: 0 });
  const max = options.maxBatches ?? 100_000;
  try {
    dealer.connect(endpoint);
    await dealer.send([Buffer.alloc(0), Buffer.from(encodeSeq(fromSeq))]);
    const out: ReplayedFrame[] = [];
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await dealer.receive();
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "EAGAIN")
          throw new Error(`replay from ${endpoint}: no reply within ${options.timeoutMs ?? 2_000} ms`);
        throw err;
      }
      const rest = frames[0]?.length === 0 ? frames.slice(1) : frames;
      let seqFrame: Buffer;
      let payload: Buffer;
      if (rest.length === 3) [, seqFrame, payload] = rest as [Buffer, Buffer, Buffer];
      else if (rest.length === 2) [seqFrame, payload] = rest as [Buffer, Buffer];
      else throw new Error(`replay from ${endpoint}: unexpected reply of ${rest.length} frames`);
      if (isEndSeq(seqFrame)) return out;
      out.push({ seq: decodeSeq(seqFrame), payload });
      if (out.length >= max) return out;
    }
  } finally {
    dealer.close();
  }
}

/**
 * The endpoint of data-parallel rank `rank`, as vLLM derives it (`offset_endpoint_port`):
 * TCP ports are offset by the rank, inproc names get `_dp<rank>`; rank 0 is unchanged.
 */
export function offsetEndpointPort(endpoint: string, rank: number): string {
  if (rank === 0) return endpoint;
  if (endpoint.startsWith("inproc://")) return `${endpoint}_dp${rank}`;
  const m = /^(tcp:\/\/.*):(\d+)$/.exec(endpoint);
  if (m) return `${m[1]}:${Number(m[2]) + rank}`;
  return endpoint;
}

/**
 * An endpoint a client can connect to: vLLM is configured with a wildcard bind address
 * (`tcp://*:5557`); replace the wildcard with the host of the server's HTTP address.
 */
export function connectableEndpoint(endpoint: string, serverAddress: string): string {
  if (!/^tcp:\/\/(\*|0\.0\.0\.0|\[::\]|::):/.test(endpoint)) return endpoint;
  let host = "127.0.0.1";
  try {
    host = new URL(serverAddress).hostname || host;
  } catch {
    // keep 127.0.0.1
  }
  return endpoint.replace(/^tcp:\/\/(\*|0\.0\.0\.0|\[::\]|::):/, `tcp://${host}:`);
}
