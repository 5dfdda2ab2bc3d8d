import { readFile } from "node:fs/promises";
import { ConfigError as ServiceConfigError } from "@inferd/service-kit";
import { isPickerConfigFile, loadScorerConfig } from "./config.ts";
import { type PolicySource, validatePolicy } from "./core.ts";

/**
 * `inferd scorer --config FILE --validate`: checks the policy FILE describes and prints the resulting
 * profiles with their plugins and weights. FILE may be an EndpointPickerConfig or a scorer service
 * config (whose `pickerConfig` or `profile` names the policy). `ok` is false, with the reason in
 * `text`, on any error.
 */
export async function validateConfigFile(path: string): Promise<{ ok: boolean; text: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    return { ok: false, text: `error: cannot read ${path}: ${(err as Error).message}\n` };
  }
  if (isPickerConfigFile(path)) return validatePolicy({ kind: "config", text, source: path });
  let policy: PolicySource;
  try {
    const cfg = loadScorerConfig(["--config", path], {});
    policy = cfg.pickerConfig
      ? { kind: "config", text: await readFile(cfg.pickerConfig, "utf8"), source: cfg.pickerConfig }
      : { kind: "builtin", name: cfg.profile };
  } catch (err) {
    if (err instanceof ServiceConfigError) return { ok: false, text: `error: ${err.message}\n` };
    return { ok: false, text: `error: ${(err as Error).message}\n` };
  }
  return validatePolicy(policy);
}
