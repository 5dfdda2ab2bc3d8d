import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import {
  bool,
  ConfigError,
  describeConfig,
  envName,
  int,
  json,
  list,
  loadConfig,
  num,
  oneOf,
  str,
} from "../../src/index.ts";

const spec = {
  port: int({ default: 8080, min: 1, max: 65535, doc: "HTTP port" }),
  nats_url: str({ default: "nats://127.0.0.1:4222", pattern: /^nats:\/\// }),
  ratio: num({ default: 0.5, min: 0, max: 1 }),
  debug: bool({ default: false }),
  failure_mode: oneOf(["FailOpen", "FailClose"] as const, { default: "FailOpen" }),
  models: list({ default: [] }),
  limits: json({
    default: { rps: 1 },
    validate: (v) => {
      if (typeof v !== "object" || v === null || typeof (v as { rps?: unknown }).rps !== "number")
        throw new Error("needs a numeric rps");
      return v as { rps: number };
    },
  }),
};

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "inferd-config-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, text);
  return file;
}

describe("service-kit - config key convention", () => {
  const camel = {
    natsUrl: str({ default: "nats://a" }),
    httpPort: int({ default: 1, min: 0 }),
  };
  it("a snake_case (old) YAML key is accepted with one warning naming the camelCase key", () => {
    const warnings: string[] = [];
    const file = yamlFile("nats_url: nats://b\nhttp-port: 7\n");
    const c = loadConfig("kv-index", camel, {
      argv: ["--config", file],
      env: {},
      onWarning: (w) => warnings.push(w),
    });
    expect(c).toEqual({ natsUrl: "nats://b", httpPort: 7 });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/"nats_url" is deprecated, use "natsUrl"/);
  });
  it("old and new spelling together is an error; the environment name is the same for both", () => {
    const file = yamlFile("nats_url: nats://b\nnatsUrl: nats://c\n");
    expect(() =>
      loadConfig("kv-index", camel, { argv: ["--config", file], env: {}, onWarning: () => {} }),
    ).toThrow(/both "nats_url" and "natsUrl"/);
    expect(envName("kv-index", "natsUrl")).toBe(envName("kv-index", "nats_url"));
    expect(loadConfig("kv-index", camel, { env: { INFERD_KV_INDEX_HTTP_PORT: "9" } }).httpPort).toBe(9);
  });
});

describe("service-kit - config", () => {
  it("uses defaults when nothing is given", () => {
    const c = loadConfig("gateway", spec, { env: {} });
    expect(c).toEqual({
      port: 8080,
      nats_url: "nats://127.0.0.1:4222",
      ratio: 0.5,
      debug: false,
      failure_mode: "FailOpen",
      models: [],
      limits: { rps: 1 },
    });
  });

  it("layers defaults < YAML file < environment", () => {
    const file = yamlFile("port: 9000\nratio: 0.25\nmodels: [a, b]\nlimits: { rps: 7 }\n");
    const c = loadConfig("gateway", spec, {
      argv: ["--config", file],
      env: { INFERD_GATEWAY_PORT: "9100", INFERD_GATEWAY_DEBUG: "true", INFERD_GATEWAY_MODELS: "x, y" },
    });
    expect(c.port).toBe(9100);
    expect(c.ratio).toBe(0.25);
    expect(c.debug).toBe(true);
    expect(c.models).toEqual(["x", "y"]);
    expect(c.limits).toEqual({ rps: 7 });
  });

  it("names every bad key and the reason, one line each", () => {
    const file = yamlFile("port: 70000\nfailure_mode: Sometimes\ncolour: blue\n");
    let error: ConfigError | undefined;
    try {
      loadConfig("gateway", spec, {
        argv: [`--config=${file}`],
        env: { INFERD_GATEWAY_RATIO: "lots", INFERD_GATEWAY_LIMITS: '{"rps":"x"}' },
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.problems).toEqual([
      `${file}: unknown key "colour" (known: port, nats_url, ratio, debug, failure_mode, models, limits)`,
      `${file}: port: must be an integer between 1 and 65535, got 70000`,
      'INFERD_GATEWAY_RATIO: must be a number between 0 and 1, got "lots"',
      `${file}: failure_mode: must be one of FailOpen, FailClose, got "Sometimes"`,
      "INFERD_GATEWAY_LIMITS: needs a numeric rps",
    ]);
    expect(error?.message).toMatch(/^invalid gateway configuration:\n {2}/);
  });

  it("reports an unreadable or non-mapping file", () => {
    expect(() => loadConfig("x", spec, { argv: ["--config", "/nonexistent/file.yaml"], env: {} })).toThrow(
      /ENOENT/,
    );
    expect(() => loadConfig("x", spec, { argv: ["--config", yamlFile("- a\n- b\n")], env: {} })).toThrow(
      /must be a YAML mapping/,
    );
  });

  it("refuses what YAML only warns about (an unresolved tag, an unknown directive) with one line, printing nothing", () => {
    // yaml's parse() prints its warnings through process.emitWarning: nothing may reach it.
    const emitted = vi.spyOn(process, "emitWarning");
    onTestFinished(() => emitted.mockRestore());
    for (const [text, reason] of [
      ["port: !gO 8081\n", "Unresolved tag: !gO at line 1, column 7"],
      ["%FOO bar\n---\nport: 8081\n", "Unknown directive %FOO at line 1, column 1"],
      ["port: [8081\n", "Flow sequence in block collection must be sufficiently indented and end with a ]"],
    ] as const) {
      const file = yamlFile(text);
      let error: ConfigError | undefined;
      try {
        loadConfig("gateway", spec, { argv: ["--config", file], env: {} });
      } catch (err) {
        error = err as ConfigError;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(error?.problems).toHaveLength(1);
      expect(error?.problems[0]).toMatch(new RegExp(`^${file}: ${reason.replace(/[[\]]/g, "\\$&")}`));
      expect(error?.problems[0]).not.toContain("\n");
    }
    expect(emitted).not.toHaveBeenCalled();
    // A tag YAML knows still works.
    expect(
      loadConfig("gateway", spec, { argv: ["--config", yamlFile("port: !!int 8081\n")], env: {} }).port,
    ).toBe(8081);
  });

  it("derives environment names and documents keys", () => {
    expect(envName("kv-index", "redis-url")).toBe("INFERD_KV_INDEX_REDIS_URL");
    expect(envName("scorer", "natsUrl")).toBe("INFERD_SCORER_NATS_URL");
    expect(envName("scorer", "opsPort")).toBe("INFERD_SCORER_OPS_PORT");
    expect(describeConfig("gateway", { port: spec.port })).toContain(
      "| `port` | `INFERD_GATEWAY_PORT` | `8080` | HTTP port |",
    );
  });
});
