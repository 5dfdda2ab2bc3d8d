import { ConfigError } from "./errors.ts";
import type { Handle } from "./handle.ts";
import type { Params } from "./params.ts";
import type { Plugin } from "./plugin.ts";

/** Builds a plugin from its instance name and validated parameters (GIE's FactoryFunc). */
export type PluginFactory = (name: string, params: Params, handle: Handle) => Plugin;

export interface PluginRegistration {
  readonly type: string;
  readonly factory: PluginFactory;
  /** One line for `--validate` output and docs. */
  readonly description: string;
  /** Set when the type is an alias of another (e.g. pd-profile-handler -> disagg-profile-handler). */
  readonly aliasOf?: string;
}

/** Plugin types by name. Registering a type twice is a programming error and throws. */
export class Registry {
  private readonly byType = new Map<string, PluginRegistration>();

  register(type: string, factory: PluginFactory, description: string, aliasOf?: string): void {
    if (this.byType.has(type)) throw new Error(`plugin type "${type}" is already registered`);
    this.byType.set(type, { type, factory, description, ...(aliasOf ? { aliasOf } : {}) });
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  get(type: string): PluginRegistration | undefined {
    return this.byType.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()].sort();
  }

  create(type: string, name: string, params: Params, handle: Handle): Plugin {
    const reg = this.byType.get(type);
    if (!reg) {
      throw new ConfigError(
        `plugin "${name}": unknown plugin type "${type}" (known types: ${this.types().join(", ")})`,
      );
    }
    return reg.factory(name, params, handle);
  }
}
