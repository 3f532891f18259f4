// What `npm pack` would publish, read from `npm pack --dry-run --json` over the built dist/ (offline, ~1 s; no
// tarball written): only dist, README, LICENSE and package.json; every exports target, bin and unpkg file present;
// every file built for an entry wanted by someone (no unreachable CJS copies of the CLIs or of the browser entry).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(__dirname, "../..");
const pkg = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8"));

/** Every string leaf of an exports map (all conditions). */
const leaves = (t: unknown): string[] =>
  typeof t === "string" ? [t] : t && typeof t === "object" ? Object.values(t).flatMap(leaves) : [];

describe.runIf(existsSync(resolve(root, "dist/node.js")))("npm pack contents (after `npm run build`)", () => {
  const files: string[] = existsSync(resolve(root, "dist/node.js"))
    ? (JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8", timeout: 30_000 }))
      [0].files as { path: string }[]).map((f) => f.path)
    : [];
  const shipped = new Set(files);
  const targets = [...leaves(pkg.exports), ...Object.values(pkg.bin as Record<string, string>), pkg.unpkg, pkg.main, pkg.module, pkg.types]
    .map((f: string) => f.replace(/^\.\//, ""));

  it("holds package.json, README.md, LICENSE and dist/ only: no sources, tests or stray files", () => {
    expect(files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/[^/]+)$/.test(f))).toEqual([]);
    expect(shipped).toContain("LICENSE");
    expect(shipped).toContain("README.md");
  });

  it("holds every file that exports, bin, main, module, types and unpkg name", () => {
    expect(targets.filter((f) => !shipped.has(f))).toEqual([]);
  });

  it("bins are ESM scripts with a node shebang", () => {
    for (const bin of Object.values(pkg.bin as Record<string, string>)) {
      expect(readFileSync(resolve(root, bin), "utf8").split("\n")[0], bin).toBe("#!/usr/bin/env node");
    }
  });

  it("every file built for a tsup entry is reachable: named by package.json, or the documented dist/gearman.js", () => {
    const entries = new Set<string>(pkg.tsup.flatMap((c: { entry: Record<string, string> }) => Object.keys(c.entry)));
    const wanted = new Set([...targets, "dist/gearman.js"]);
    const stray = files.filter((f) => entries.has(f.replace(/^dist\/|(\.d)?\.c?[jt]s(\.map)?$/g, "")))
      .filter((f) => !wanted.has(f.replace(/\.map$/, "")));
    expect(stray).toEqual([]);
  });
});
