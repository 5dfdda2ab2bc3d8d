import { detectVllmVersion, type VllmVersions } from "@inferd/block-index";
import type { Logger } from "@inferd/service-kit";

const RETRY_MS = 30_000;

/**
 * With `vllmVersionDetect` (as kv-index does it): asks each ready endpoint's GET /version once, so
 * a model whose version is not configured gets the rules its servers report, the same rules
 * kv-index learns from the same servers. Configured `vllmVersions` win.
 */
export class VllmVersionDetector {
  readonly #versions: VllmVersions;
  readonly #logger: Logger;
  /** Pods asked (or being asked), with when a failed ask may be retried (Infinity = answered). */
  readonly #asked = new Map<string, number>();

  constructor(versions: VllmVersions, logger: Logger) {
    this.#versions = versions;
    this.#logger = logger;
  }

  observe(endpoints: Iterable<{ pod: string; model: string; address: string; ready: boolean }>): void {
    for (const e of endpoints) {
      if (!e.ready || !e.address || (this.#asked.get(e.pod) ?? 0) > Date.now()) continue;
      this.#asked.set(e.pod, Number.POSITIVE_INFINITY);
      detectVllmVersion(this.#versions, e.model, e.address)
        .then(({ reported, rules }) =>
          this.#logger.info({ model: e.model, pod: e.pod, reported, using: rules.version }, "vLLM version"),
        )
        .catch((err: Error) => {
          // Asked again a while later (the server may still be starting, or have no /version).
          this.#asked.set(e.pod, Date.now() + RETRY_MS);
          this.#logger.debug({ pod: e.pod, err: err.message }, "no vLLM version from the server");
        });
    }
  }
}
