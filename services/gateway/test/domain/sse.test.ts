import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventEndScan, parseEvent, parseEventLines, SseSplitter } from "../../src/domain/sse.ts";

const b = (s: string) => Buffer.from(s, "utf8");

describe("sse", () => {
  it("sse - whole events pass byte for byte, several per chunk", () => {
    const s = new SseSplitter();
    const evs = s.push(b('data: {"a":1}\n\ndata: {"b":2}\n\n'));
    expect(evs.map((e) => e.raw.toString())).toEqual(['data: {"a":1}\n\n', 'data: {"b":2}\n\n']);
    expect(evs.map((e) => e.data)).toEqual(['{"a":1}', '{"b":2}']);
    expect(s.flush()).toBeUndefined();
  });

  it("sse - an event cut anywhere is emitted once complete", () => {
    const text = 'data: {"x":"héllo"}\n\ndata: [DONE]\n\n';
    const bytes = b(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = new SseSplitter();
      const evs = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      expect(Buffer.concat(evs.map((e) => e.raw)).equals(bytes)).toBe(true);
      expect(evs.map((e) => e.data)).toEqual(['{"x":"héllo"}', "[DONE]"]);
    }
  });

  it("sse - CRLF framing, comments, event names and multi-line data", () => {
    const s = new SseSplitter();
    const evs = s.push(b(": keepalive\r\n\r\nevent: error\r\ndata: line1\r\ndata: line2\r\n\r\n"));
    expect(evs).toHaveLength(2);
    expect(evs[0]!.data).toBeUndefined();
    expect(evs[1]!.event).toBe("error");
    expect(evs[1]!.data).toBe("line1\nline2");
  });

  it("sse - an unterminated tail is returned by flush", () => {
    const s = new SseSplitter();
    expect(s.push(b("data: partial"))).toEqual([]);
    expect(s.flush()?.toString()).toBe("data: partial");
  });
});

describe("sse - fast paths", () => {
  // Pieces of SSE streams: every line ending, comments, other fields, multi-byte text.
  const piece = fc.constantFrom(
    "data: ",
    "data:",
    "event: x",
    ": c",
    "id: 1",
    '{"a":"é😀"}',
    "[DONE]",
    "\n",
    "\n\n",
    "\r\n",
    "\r\n\r\n",
    "\r",
    "\r\r",
    " ",
    "x",
  );
  const stream = fc.array(piece, { maxLength: 40 }).map((p) => Buffer.from(p.join(""), "utf8"));

  /** The splitter as it was: byte-by-byte search and line-by-line parsing for every event. */
  function reference(chunks: Buffer[]) {
    let pending = Buffer.alloc(0);
    const out: { raw: string; data: string | undefined; event: string | undefined }[] = [];
    for (const c of chunks) {
      let buf = Buffer.concat([pending, c]);
      for (;;) {
        const end = eventEndScan(buf, 0, 0);
        if (end < 0) break;
        const ev = parseEventLines(buf.subarray(0, end));
        out.push({ raw: ev.raw.toString("latin1"), data: ev.data, event: ev.event });
        buf = buf.subarray(end);
      }
      pending = buf;
    }
    return { out, rest: pending.toString("latin1") };
  }

  it("sse - splits and parses any stream cut anywhere exactly as the general byte-by-byte form", () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 4 }), (bytes, cutsRaw) => {
        const cuts = [...new Set(cutsRaw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let at = 0;
        for (const c of [...cuts, bytes.length]) {
          chunks.push(bytes.subarray(at, c));
          at = c;
        }
        const s = new SseSplitter();
        const got = chunks
          .flatMap((c) => s.push(c))
          .map((e) => ({ raw: e.raw.toString("latin1"), data: e.data, event: e.event }));
        const want = reference(chunks);
        expect(got).toEqual(want.out);
        expect((s.flush() ?? Buffer.alloc(0)).toString("latin1")).toBe(want.rest);
      }),
      { numRuns: 2000 },
    );
  });

  it("sse - the one-line data event is read by the fast path and equals the general form", () => {
    for (const text of ["data: \n\n", 'data: {"x":"héllo"}\n\n', "data: [DONE]\n\n"]) {
      const raw = Buffer.from(text);
      expect(parseEvent(raw)).toEqual(parseEventLines(raw));
    }
  });
});
