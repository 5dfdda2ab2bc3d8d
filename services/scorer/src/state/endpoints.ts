import type { EndpointInfo } from "../framework/types.ts";

export interface CandidateSet {
  /** Base model serving the request. */
  readonly baseModel: string;
  /** Adapter name when the requested model is a LoRA adapter. */
  readonly lora: string | undefined;
  readonly endpoints: readonly EndpointInfo[];
}

/**
 * The endpoint inventory (INFERD_ENDPOINTS bucket or a static list), indexed by model. Resolves a
 * requested model name to candidates: the base model's servers, or for an adapter the servers that
 * list it.
 */
export class EndpointStore {
  private readonly byKey = new Map<string, EndpointInfo>();
  private readonly byModel = new Map<string, Map<string, EndpointInfo>>();
  private version = 0;

  get(model: string, pod: string): EndpointInfo | undefined {
    return this.byKey.get(keyOf(model, pod));
  }

  upsert(info: EndpointInfo): void {
    const key = keyOf(info.model, info.pod);
    this.byKey.set(key, info);
    let pods = this.byModel.get(info.model);
    if (!pods) {
      pods = new Map();
      this.byModel.set(info.model, pods);
    }
    pods.set(info.pod, info);
    this.version++;
  }

  remove(model: string, pod: string): EndpointInfo | undefined {
    const key = keyOf(model, pod);
    const existing = this.byKey.get(key);
    this.byKey.delete(key);
    this.byModel.get(model)?.delete(pod);
    this.version++;
    return existing;
  }

  /** Replaces the whole inventory (static list reload). */
  replaceAll(infos: readonly EndpointInfo[]): void {
    this.byKey.clear();
    this.byModel.clear();
    for (const i of infos) this.upsert(i);
  }

  all(): EndpointInfo[] {
    return [...this.byKey.values()];
  }

  models(): string[] {
    return [...this.byModel.keys()];
  }

  get changes(): number {
    return this.version;
  }

  candidates(model: string): CandidateSet {
    const base = this.byModel.get(model);
    if (base && base.size > 0) return { baseModel: model, lora: undefined, endpoints: [...base.values()] };
    const serving: EndpointInfo[] = [];
    for (const info of this.byKey.values()) if (info.loraAdapters.includes(model)) serving.push(info);
    if (serving.length === 0) return { baseModel: model, lora: undefined, endpoints: [] };
    // An adapter name could in principle be loaded on several base models; the first base model wins.
    const baseModel = serving[0]!.model;
    return { baseModel, lora: model, endpoints: serving.filter((i) => i.model === baseModel) };
  }
}

function keyOf(model: string, pod: string): string {
  return `${model}\u0000${pod}`;
}
