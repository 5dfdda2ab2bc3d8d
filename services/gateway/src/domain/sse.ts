/**
 * Incremental Server-Sent-Events splitter. Upstream chunks may cut events anywhere; the gateway
 * forwards whole events, byte for byte, as soon as each is complete, so the client sees the
 * model server's framing unchanged. Pure: no I/O.
 */

export interface SseEvent {
  /** The event's exact bytes, terminator included. */
  raw: Buffer;
  /** Concatenated `data:` lines (joined by "\n"), undefined when the event has none. */
  data: string | undefined;
  /** The `event:` field, undefined when absent. */
  event: string | undefined;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Index just past the first blank line ("\n\n", "\r\n\r\n" or "\r\r") of the event that starts
 * at `start`, or -1. Scanning resumes at `from` (bytes before it were already searched).
 * Model servers frame with "\n" only: without a CR in the buffer, the blank line is found by
 * jumping from newline to newline (Buffer.indexOf, native) instead of reading every byte.
 */
function eventEnd(buf: Buffer, start: number, from: number): number {
  if (buf.indexOf(CR, start) >= 0) return eventEndScan(buf, start, from);
  for (let i = Math.max(from, start + 1); ; i++) {
    i = buf.indexOf(LF, i);
    if (i < 0) return -1;
    if (buf[i - 1] === LF) return i + 1;
  }
}

/** eventEnd's general form, byte by byte (any of the three line endings). */
export function eventEndScan(buf: Buffer, start: number, from: number): number {
  for (let i = Math.max(from, start + 1); i < buf.length; i++) {
    const c = buf[i];
    if (c === LF) {
      if (buf[i - 1] === LF) return i + 1;
      if (buf[i - 1] === CR && i - 3 >= start && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
    } else if (c === CR && buf[i - 1] === CR && buf[i + 1] !== LF) {
      return i + 1;
    }
  }
  return -1;
}

const DATA_PREFIX = Buffer.from("data: ");

/**
 * One event's fields. The usual event, `data: <one line>\n\n`, is read with one slice; any other
 * (several lines, other fields, comments, CR) goes through the line-by-line reading.
 */
export function parseEvent(raw: Buffer): SseEvent {
  const n = raw.length;
  if (
    n >= 8 &&
    raw[n - 1] === LF &&
    raw.indexOf(LF) === n - 2 &&
    raw.indexOf(CR) < 0 &&
    raw.compare(DATA_PREFIX, 0, 6, 0, 6) === 0
  )
    return { raw, data: raw.toString("utf8", 6, n - 2), event: undefined };
  return parseEventLines(raw);
}

/** parseEvent's general form. */
export function parseEventLines(raw: Buffer): SseEvent {
  let data: string | undefined;
  let event: string | undefined;
  for (const line of raw.toString("utf8").split(/\r\n|\r|\n/)) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
    else if (field === "event") event = value;
  }
  return { raw, data, event };
}

export class SseSplitter {
  #pending: Buffer | undefined;

  /** Feeds one chunk; returns the events completed by it (possibly none). */
  push(chunk: Buffer): SseEvent[] {
    let buf = chunk;
    let scanFrom = 0;
    if (this.#pending !== undefined) {
      scanFrom = Math.max(0, this.#pending.length - 3);
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    const out: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const end = eventEnd(buf, start, scanFrom);
      if (end < 0) break;
      out.push(parseEvent(buf.subarray(start, end)));
      start = end;
    }
    if (start < buf.length) this.#pending = buf.subarray(start);
    return out;
  }

  /** Bytes of an incomplete trailing event (the stream ended without a blank line). */
  flush(): Buffer | undefined {
    const rest = this.#pending;
    this.#pending = undefined;
    return rest;
  }
}
