import { describe, expect, test } from "vitest";
import { parseIndexClearedLine, parseSpawnedLine, restartTargets } from "../../lib/restart.ts";

const PODS = ["sim-b", "sim-a", "sim-d", "sim-c"];

describe("bench restart", () => {
  test("bench restart - one server per stage, a different one each measured stage, in name order", () => {
    expect([0, 1, 2, 3, 4].map((i) => restartTargets(i, 1, PODS))).toEqual([
      ["sim-a"],
      ["sim-b"],
      ["sim-c"],
      ["sim-d"],
      ["sim-a"],
    ]);
  });

  test("bench restart - K servers per stage move on by K and never repeat within a stage", () => {
    expect(restartTargets(0, 2, PODS)).toEqual(["sim-a", "sim-b"]);
    expect(restartTargets(1, 2, PODS)).toEqual(["sim-c", "sim-d"]);
    expect(restartTargets(1, 3, PODS)).toEqual(["sim-d", "sim-a", "sim-b"]);
    for (let i = 0; i < 10; i++) expect(new Set(restartTargets(i, 3, PODS)).size).toBe(3);
    expect(restartTargets(0, 9, PODS)).toHaveLength(4);
    expect(restartTargets(0, 1, [])).toEqual([]);
    expect(restartTargets(0, 0, PODS)).toEqual([]);
  });

  test("bench restart - the deployer's spawned line gives pod and pid; other lines give nothing", () => {
    const line =
      'deployer       | {"level":30,"time":1,"service":"deployer","pid":26942,"type":"spawned","pod":"default-7f2c-0","pid":4242,"msg":"server spawned"}';
    expect(parseSpawnedLine(line)).toEqual({ pod: "default-7f2c-0", pid: 4242 });
    expect(parseSpawnedLine(line.replace("server spawned", "server ready"))).toBeNull();
    expect(parseSpawnedLine(line.replace('"pid":4242', '"pid":null'))).toBeNull();
    expect(parseSpawnedLine('x | {"msg":"server spawned","pod":"p","pid":-1}')).toBeNull();
    expect(parseSpawnedLine('x | "server spawned" {not json')).toBeNull();
    expect(parseSpawnedLine("gateway | listening")).toBeNull();
  });

  test("bench restart - kv-index's engine-restarted line names the pod it cleared", () => {
    const line =
      'kv-index   | {"level":40,"time":1,"service":"kv-index","pid":27167,"part":"ingest","model":"Qwen/Qwen3-32B","pod":"default-1","rank":0,"previous":"11","seq":"0","msg":"kv event sequence went backwards: engine restarted; clearing its entries"}';
    expect(parseIndexClearedLine(line)).toBe("default-1");
    expect(
      parseIndexClearedLine(
        'kv-index | {"pod":"default-2","msg":"engine restarted (replayed batch differs from the one seen); clearing its entries"}',
      ),
    ).toBe("default-2");
    expect(parseIndexClearedLine('kv-index | {"pod":"default-1","msg":"replay done"}')).toBeNull();
    expect(parseIndexClearedLine("engine restarted; clearing its entries")).toBeNull();
  });
});
