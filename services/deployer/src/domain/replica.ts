/** The deployer's view of one model server; drivers produce these, the inventory writer publishes them. */
export type ReplicaState = "starting" | "ready" | "draining" | "unhealthy";
export type ReplicaRole = "both" | "prefill" | "decode";

export interface Replica {
  readonly pool: string;
  readonly model: string;
  /** Unique within the model: process name (local) or Pod name (kubernetes). */
  readonly pod: string;
  /** Base URL of the OpenAI-compatible API; empty while no address is known yet. */
  readonly address: string;
  readonly state: ReplicaState;
  readonly role: ReplicaRole;
  readonly loraAdapters: readonly string[];
  readonly kvEventsEndpoint: string;
  readonly kvReplayEndpoint: string;
  readonly blockSize: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** Reads the llm-d role label values (`prefill`, `decode`, `both`, or llm-d's `prefill-decode`). */
export function parseRole(value: string | undefined): ReplicaRole {
  if (value === "prefill" || value === "decode") return value;
  return "both";
}
