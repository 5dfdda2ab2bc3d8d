import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validatePolicy } from "../../src/core.ts";
import { buildScheduler, describeScheduler } from "../../src/framework/build.ts";
import { BUILTIN_PROFILE_NAMES } from "../../src/framework/builtin-profiles.ts";
import { parsePickerConfig } from "../../src/framework/epp-config.ts";
import { builtinRegistry } from "../../src/plugins/index.ts";
import { handle } from "../helpers.ts";

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, "../fixtures/llm-d", name), "utf8");
const build = (text: string) => buildScheduler(parsePickerConfig(text), builtinRegistry(), handle());
const validate = (text: string) => validatePolicy({ kind: "config", text, source: "test.yaml" });
const HEADER = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";

describe("EndpointPickerConfig parsing", () => {
  it("config - accepts both apiVersions and rejects others", () => {
    expect(
      parsePickerConfig("apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n")
        .plugins,
    ).toEqual([]);
    expect(() => parsePickerConfig("apiVersion: v2\nkind: EndpointPickerConfig\n")).toThrow(
      /apiVersion must be one of/,
    );
    expect(() => parsePickerConfig("apiVersion: llm-d.ai/v1alpha1\nkind: Pod\n")).toThrow(
      /kind must be EndpointPickerConfig/,
    );
    expect(() => parsePickerConfig("a: [")).toThrow(/not valid YAML/);
  });

  it("config - defaulting: no profiles -> one default profile with all; no picker -> max-score; weight 1", () => {
    const cfg = build(
      `${HEADER}plugins:\n- type: decode-filter\n- type: queue-scorer\n- type: kv-cache-utilization-scorer\n`,
    );
    const p = cfg.profiles.get("default")!;
    expect(p.filters.map((f) => f.type)).toEqual(["decode-filter"]);
    expect(p.scorers.map((s) => [s.scorer.type, s.weight])).toEqual([
      ["queue-scorer", 1],
      ["kv-cache-utilization-scorer", 1],
    ]);
    expect(p.picker.type).toBe("max-score-picker");
    expect(cfg.handler.type).toBe("single-profile-handler");
    expect(cfg.saturation?.type).toBe("utilization-detector");
  });

  it("config - unknown plugin type is an error naming the plugin", () => {
    expect(() => build(`${HEADER}plugins:\n- name: mine\n  type: magic-scorer\n`)).toThrow(
      /plugin "mine": unknown plugin type "magic-scorer"/,
    );
  });

  it("config - dangling pluginRef is an error naming profile and ref", () => {
    expect(() =>
      build(
        `${HEADER}plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: default\n  plugins:\n  - pluginRef: nope\n`,
      ),
    ).toThrow(/scheduling profile "default": pluginRef "nope" names no plugin/);
  });

  it("config - bad parameters and bad weights are errors naming the plugin", () => {
    expect(() =>
      build(`${HEADER}plugins:\n- type: max-score-picker\n  parameters: {maxNumOfEndpoints: -1}\n`),
    ).toThrow(/plugin "max-score-picker": parameter "maxNumOfEndpoints" must be >= 0/);
    expect(() =>
      build(
        `${HEADER}plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: d\n  plugins:\n  - {pluginRef: queue-scorer, weight: heavy}\n`,
      ),
    ).toThrow(/weight of "queue-scorer" must be a number/);
    expect(() => build(`${HEADER}plugins:\n- type: queue-scorer\n  parameters: [1]\n`)).toThrow(
      /parameters must be a mapping/,
    );
  });

  it("config - duplicate names, two pickers, several profiles without a handler are errors", () => {
    expect(() => build(`${HEADER}plugins:\n- type: queue-scorer\n- type: queue-scorer\n`)).toThrow(
      /used twice/,
    );
    expect(() => build(`${HEADER}plugins:\n- type: random-picker\n- type: max-score-picker\n`)).toThrow(
      /two pickers/,
    );
    expect(() =>
      build(
        `${HEADER}plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: a\n  plugins: [{pluginRef: queue-scorer}]\n- name: b\n  plugins: [{pluginRef: queue-scorer}]\n`,
      ),
    ).toThrow(/2 scheduling profiles need a profile handler/);
  });

  it("config - unknown parameters and ignored sections are warnings, not errors", () => {
    const cfg = build(
      `${HEADER}featureGates: [flowControl]\nplugins:\n- type: queue-scorer\n  parameters: {colour: blue}\n`,
    );
    expect(cfg.warnings.join("\n")).toMatch(/section "featureGates" ignored/);
    expect(cfg.warnings.join("\n")).toMatch(/plugin "queue-scorer": unknown parameter "colour" ignored/);
  });

  it("config - plugins needing prefix data get the default producers added", () => {
    const cfg = build(`${HEADER}plugins:\n- type: prefix-cache-scorer\n`);
    expect(cfg.producers.map((p) => p.type)).toEqual(["token-producer", "prefix-cache-producer"]);
    expect(cfg.observers.map((p) => p.type)).toContain("prefix-cache-producer");
    const random = build(`${HEADER}plugins:\n- type: random-picker\n`);
    expect(random.producers).toEqual([]);
  });

  it("config - GAIE-era inline saturation detector parameters", () => {
    const cfg = build(`${HEADER}saturationDetector: {queueDepthThreshold: 9, kvCacheUtilThreshold: 0.5}\n`);
    expect(cfg.saturation?.type).toBe("utilization-detector");
    expect(() =>
      build(`${HEADER}saturationDetector: {pluginRef: queue-scorer}\nplugins:\n- type: queue-scorer\n`),
    ).toThrow(/not a saturation detector/);
  });
});

describe("llm-d example configs", () => {
  it("config - llm-d-router pd-epp-config builds prefill and decode profiles with the disagg handler", () => {
    for (const f of ["router-pd-epp-config.yaml", "router-sim-pd-epp-config.yaml"]) {
      const cfg = build(fixture(f));
      expect(cfg.handler.type).toBe("disagg-profile-handler");
      expect([...cfg.profiles.keys()]).toEqual(["prefill", "decode"]);
      const decode = cfg.profiles.get("decode")!;
      expect(decode.filters.map((x) => x.type)).toEqual(["decode-filter"]);
      expect(decode.scorers.map((s) => [s.scorer.type, s.weight])).toEqual([
        ["prefix-cache-scorer", 2],
        ["queue-scorer", 1],
      ]);
      expect(cfg.producers.map((p) => p.type)).toEqual(["token-producer", "approx-prefix-cache-producer"]);
    }
  });

  it("config - llm-d-router precise prefix config loads with data-layer plugins as built-ins", () => {
    const cfg = build(fixture("router-epp-precise-prefix-cache-config.yaml"));
    expect(cfg.producers.map((p) => p.type)).toEqual(["token-producer", "precise-prefix-cache-producer"]);
    const p = cfg.profiles.get("default")!;
    expect(p.scorers.map((s) => [s.scorer.type, s.weight])).toEqual([
      ["prefix-cache-scorer", 2],
      ["kv-cache-utilization-scorer", 1],
      ["queue-scorer", 1],
    ]);
    expect(cfg.warnings.join("\n")).toMatch(/section "dataLayer" ignored/);
    expect(cfg.warnings.join("\n")).toMatch(/metrics-data-source.*built into inferd/);
  });

  it("config - llm-d-inference-scheduler session affinity config (GAIE apiVersion) loads", () => {
    const cfg = build(fixture("scheduler-session-affinity-config.yaml"));
    const p = cfg.profiles.get("default")!;
    expect(p.scorers.map((s) => [s.scorer.type, s.weight])).toEqual([
      ["session-affinity-scorer", 100],
      ["prefix-cache-scorer", 50],
    ]);
  });

  it("config - llm-d configs using plugins inferd lacks fail naming them", () => {
    expect(() => build(fixture("router-epp-config.yaml"))).toThrow(
      /plugin "models-responder": unknown plugin type/,
    );
    expect(() => build(fixture("scheduler-pd-epp-config.yaml"))).toThrow(
      /plugin "proximity-scorer": unknown plugin type/,
    );
  });
});

describe("validate and built-in profiles", () => {
  it("config - validate prints profiles, plugins and weights", () => {
    const r = validate(fixture("router-pd-epp-config.yaml"));
    expect(r.ok).toBe(true);
    expect(r.text).toContain('profile "decode":');
    expect(r.text).toContain("scorer  prefix-cache-scorer  weight 2");
    expect(r.text).toContain("profile handler: disagg-profile-handler");
  });

  it("config - validate reports an error without throwing", () => {
    const r = validate(`${HEADER}plugins:\n- type: nope\n`);
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/^error: plugin "nope": unknown plugin type/);
  });

  it("config - every built-in profile builds without warnings", () => {
    for (const name of BUILTIN_PROFILE_NAMES) {
      const r = validatePolicy({ kind: "builtin", name });
      expect(r.ok, `${name}: ${r.text}`).toBe(true);
      expect(r.text, name).not.toMatch(/warning/);
    }
    expect(validatePolicy({ kind: "builtin", name: "fastest" }).ok).toBe(false);
  });

  it("config - describeScheduler lists the default sticky-until-saturated profile", () => {
    const cfg = build(validatePolicy({ kind: "builtin", name: "default" }).ok ? fixtureDefault() : "");
    expect(describeScheduler(cfg, "x")).toContain("filter  prefix-cache-affinity-filter");
  });
});

function fixtureDefault(): string {
  return `${HEADER}plugins:\n- type: decode-filter\n- type: prefix-cache-affinity-filter\n- type: token-load-scorer\n`;
}
