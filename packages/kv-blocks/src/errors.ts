/**
 * Thrown for any KV-event message that cannot be understood: a payload that is not msgpack,
 * a batch or event of the wrong shape, a field of the wrong type, a bad sequence frame or topic.
 * The message names the place (`events[3].block_hashes[0]`) and what was found there, so an
 * operator can tell a vLLM schema change from a corrupt frame.
 */
export class MalformedKvEventError extends Error {
  override readonly name = "MalformedKvEventError";
}
