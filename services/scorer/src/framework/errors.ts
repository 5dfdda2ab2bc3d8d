/** A configuration problem found at startup or by `--validate`; the message names the plugin or key. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}
