/**
 * Writes every workspace project's tsconfig.json / tsconfig.src.json / tsconfig.test.json and the
 * root tsconfig.json from the package.json files, so the TypeScript project references always
 * mirror the declared workspace dependencies (an undeclared import then fails `tsc --build`).
 *
 * Run after adding a workspace package or a `workspace:*` dependency: node scripts/sync-tsconfigs.ts
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const groups = ["packages", "services"];

interface Project {
  dir: string;
  name: string;
  deps: string[];
  devDeps: string[];
}

const projects: Project[] = [];
for (const group of groups) {
  for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
    const pkgPath = join(root, group, entry.name, "package.json");
    if (!entry.isDirectory() || !existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
    const workspaceDeps = (record: Record<string, string> | undefined) =>
      Object.entries(record ?? {})
        .filter(([, v]) => v.startsWith("workspace:"))
        .map(([k]) => k);
    projects.push({
      dir: join(group, entry.name),
      name: pkg.name,
      deps: workspaceDeps(pkg.dependencies),
      devDeps: workspaceDeps(pkg.devDependencies),
    });
  }
}
const byName = new Map(projects.map((p) => [p.name, p]));

function write(path: string, value: unknown): void {
  writeFileSync(join(root, path), `${JSON.stringify(value, null, 2)}\n`);
}

function refsTo(from: string, names: string[]): { path: string }[] {
  return names
    .map((n) => byName.get(n))
    .filter((p): p is Project => p !== undefined)
    .map((p) => ({ path: relative(from, join(p.dir, "tsconfig.src.json")) }));
}

for (const p of projects) {
  const base = relative(p.dir, "tsconfig.base.json");
  write(join(p.dir, "tsconfig.json"), {
    files: [],
    references: [{ path: "./tsconfig.src.json" }, { path: "./tsconfig.test.json" }],
  });
  write(join(p.dir, "tsconfig.src.json"), {
    extends: base,
    compilerOptions: {
      rootDir: "src",
      declarationDir: ".types/src",
      tsBuildInfoFile: ".types/src.tsbuildinfo",
    },
    include: ["src/**/*.ts", "src/**/*.d.ts"],
    references: refsTo(p.dir, p.deps),
  });
  write(join(p.dir, "tsconfig.test.json"), {
    extends: base,
    compilerOptions: {
      rootDir: ".",
      declarationDir: ".types/test",
      tsBuildInfoFile: ".types/test.tsbuildinfo",
    },
    include: ["test/**/*.ts"],
    references: [{ path: "./tsconfig.src.json" }, ...refsTo(p.dir, [...p.deps, ...p.devDeps])],
  });
}

const e2eDir = "test";
const e2ePkg = JSON.parse(readFileSync(join(root, e2eDir, "package.json"), "utf8"));
const e2eDeps = Object.keys(e2ePkg.dependencies ?? {}).filter((n) => byName.has(n));
write(join(e2eDir, "tsconfig.json"), {
  extends: "../tsconfig.base.json",
  compilerOptions: { rootDir: ".", declarationDir: ".types", tsBuildInfoFile: ".types/e2e.tsbuildinfo" },
  include: ["**/*.ts"],
  exclude: ["node_modules", ".types"],
  references: refsTo(e2eDir, e2eDeps),
});

write("tsconfig.json", {
  files: [],
  references: [...projects.map((p) => ({ path: `./${p.dir}` })), { path: "./test" }],
});
console.log(`wrote tsconfigs for ${projects.length} projects and test/`);
