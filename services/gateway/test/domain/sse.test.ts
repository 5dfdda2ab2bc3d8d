import { describe, expect, it } from "vitest";
import { SseSplitter } from "../../src/domain/sse.ts";

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
