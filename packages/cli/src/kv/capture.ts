/**
 * A capture of one ZeroMQ message as written by capture tools: the three frames
 * `[topic, seq (8 bytes), payload]`, each preceded by its length as a 4-byte big-endian integer.
 * Returns undefined when the bytes are not exactly such a capture (then they are a raw payload).
 */
export function splitCapture(
  bytes: Uint8Array,
): { topic: Uint8Array; seq: Uint8Array; payload: Uint8Array } | undefined {
  const frames: Uint8Array[] = [];
  let offset = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (offset < bytes.length && frames.length < 3) {
    if (offset + 4 > bytes.length) return undefined;
    const length = view.getUint32(offset);
    offset += 4;
    if (offset + length > bytes.length) return undefined;
    frames.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (frames.length !== 3 || offset !== bytes.length || frames[1]!.length !== 8) return undefined;
  return { topic: frames[0]!, seq: frames[1]!, payload: frames[2]! };
}

/** Writes frames in the capture layout read by splitCapture. */
export function joinCapture(frames: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + 4 + f.length, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const f of frames) {
    view.setUint32(offset, f.length);
    out.set(f, offset + 4);
    offset += 4 + f.length;
  }
  return out;
}
