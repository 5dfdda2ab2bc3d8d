import type { LoraRef } from "./engine/types.ts";
import { HttpError } from "./http/errors.ts";

export interface LoadedLora extends LoraRef {
  readonly path: string;
}

/** Loaded LoRA adapters (vLLM's serving_models): names are served as model names, ids count from 1. */
export class LoraRegistry {
  private readonly adapters = new Map<string, LoadedLora>();
  private nextId = 1;
  readonly enabled: boolean;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  get(name: string): LoadedLora | undefined {
    return this.adapters.get(name);
  }

  list(): LoadedLora[] {
    return [...this.adapters.values()];
  }

  load(name: unknown, path: unknown): LoadedLora {
    if (!this.enabled) throw new HttpError(400, "LoRA is not enabled. Start the server with --enable-lora.");
    if (typeof name !== "string" || name === "" || typeof path !== "string" || path === "") {
      throw new HttpError(400, "Both 'lora_name' and 'lora_path' must be provided.");
    }
    if (this.adapters.has(name))
      throw new HttpError(400, `The lora adapter '${name}' has already been loaded.`);
    const a: LoadedLora = { name, path, id: this.nextId++ };
    this.adapters.set(name, a);
    return a;
  }

  unload(name: unknown): void {
    if (!this.enabled) throw new HttpError(400, "LoRA is not enabled. Start the server with --enable-lora.");
    if (typeof name !== "string" || name === "")
      throw new HttpError(400, "'lora_name' needs to be provided to unload a LoRA adapter.");
    if (!this.adapters.delete(name)) throw new HttpError(404, `The lora adapter '${name}' cannot be found.`);
  }
}
