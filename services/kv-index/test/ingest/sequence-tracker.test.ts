import { expect, it } from "vitest";
import { judgeSeq } from "../../src/ingest/sequence-tracker.ts";

it("kv-index - sequence verdicts", () => {
  expect(judgeSeq(undefined, 0n)).toEqual({ kind: "first", missed: false });
  expect(judgeSeq(undefined, 7n)).toEqual({ kind: "first", missed: true });
  expect(judgeSeq(4n, 5n)).toEqual({ kind: "next" });
  expect(judgeSeq(4n, 4n)).toEqual({ kind: "duplicate" });
  expect(judgeSeq(4n, 9n)).toEqual({ kind: "gap", from: 5n });
  expect(judgeSeq(4n, 0n)).toEqual({ kind: "restart", previous: 4n });
  expect(judgeSeq(2n ** 64n - 2n, 2n ** 64n - 1n)).toEqual({ kind: "next" });
});
