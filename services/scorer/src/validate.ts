import { readFile } from "node:fs/promises";
import { validatePolicy } from "./core.ts";

/**
 * `inferd scorer --config FILE --validate`: checks an EndpointPickerConfig and describes the resulting
 * profiles, plugins and weights. `ok` is false (and `text` says why) on any configuration error.
 */
export async function validateConfigFile(path: string): Promise<{ ok: boolean; text: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    return { ok: false, text: `error: cannot read ${path}: ${(err as Error).message}\n` };
  }
  return validatePolicy({ kind: "config", text, source: path });
}
