/**
 * Runs `fn` once the upstream requests dispatched in this turn of the event loop are written.
 * undici writes a request on a kept-alive connection from a setImmediate (it first lets the check
 * phase see bytes or a FIN already pending on the idle socket), so work queued with one
 * setImmediate before the dispatch runs ahead of that write and adds to the time to first
 * token. Queued from within a setImmediate, `fn` runs in the next turn's check phase, after it.
 */
export function afterUpstreamWrite(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}
