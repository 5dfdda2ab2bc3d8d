import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TokenizeJob } from "../../src/adapters/tokenize/job.ts";
import { WarmPrefixes } from "../../src/adapters/tokenize/warm-prefixes.ts";

const chat = (messages: unknown[], options: Record<string, unknown> = {}): TokenizeJob => ({
  kind: "chat",
  chat: { messages, addGenerationPrompt: true, ...options },
});
const key = (job: TokenizeJob, model = "m"): string | undefined => WarmPrefixes.keyOf(model, job);
const sys = (content: string) => ({ role: "system", content });
const user = (content: string) => ({ role: "user", content });

describe("WarmPrefixes.keyOf", () => {
  it("has no key for a completions prompt or a chat of one message", () => {
    expect(key({ kind: "text", text: "hello" })).toBeUndefined();
    expect(key(chat([user("hello")]))).toBeUndefined();
  });

  it("keys the prefix only: the last message does not change it", () => {
    expect(key(chat([sys("be brief"), user("q1")]))).toBe(key(chat([sys("be brief"), user("q2")])));
  });

  it("tells apart models, template options, extra fields and field boundaries", () => {
    const base = key(chat([sys("be brief"), user("q")]));
    expect(key(chat([sys("be brief"), user("q")]), "other")).not.toBe(base);
    expect(key(chat([sys("be brief"), user("q")], { addGenerationPrompt: false }))).not.toBe(base);
    expect(key(chat([{ ...sys("be brief"), name: "x" }, user("q")]))).not.toBe(base);
    expect(key(chat([{ role: "system", content: "be brief", n: 1 }, user("q")]))).not.toBe(
      key(chat([{ role: "system", content: "be brief", n: "1" }, user("q")])),
    );
    // The same characters split differently between fields or messages.
    expect(key(chat([{ role: "sys", content: "tembe brief" }, user("q")]))).not.toBe(
      key(chat([{ role: "system", content: "be brief" }, user("q")])),
    );
    expect(key(chat([sys("a"), sys("b"), user("q")]))).not.toBe(key(chat([sys("a b"), user("q")])));
  });

  it("gives two prefixes the same key exactly when they are equal (as JSON)", () => {
    const msg = fc.record({ role: fc.constantFrom("system", "user", "assistant"), content: fc.string() });
    fc.assert(
      fc.property(
        fc.array(msg, { minLength: 1, maxLength: 3 }),
        fc.array(msg, { minLength: 1, maxLength: 3 }),
        (a, b) => {
          const same = JSON.stringify(a) === JSON.stringify(b);
          expect(key(chat([...a, user("q")])) === key(chat([...b, user("q")]))).toBe(same);
        },
      ),
    );
  });
});

describe("WarmPrefixes", () => {
  it("forgets the least recently used key past its capacity", () => {
    const w = new WarmPrefixes(2);
    w.add("a");
    w.add("b");
    expect(w.has("a")).toBe(true); // refreshes a: b is now the oldest
    w.add("c");
    expect([w.has("a"), w.has("b"), w.has("c"), w.size]).toEqual([true, false, true, 2]);
    w.delete("a");
    expect(w.has("a")).toBe(false);
  });
});
