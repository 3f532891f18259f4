// The package.json exports map, resolved the way Node, TypeScript and browser bundlers resolve it: types everywhere,
// Node-only code (bridge, server) only under the "node" condition, and every target a file tsup builds.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const pkg = JSON.parse(readFileSync(resolve(__dirname, "../../package.json"), "utf8"));
const exportsMap: Record<string, unknown> = pkg.exports;
const subpaths = Object.keys(exportsMap).filter((s) => s !== "./package.json");
const NODE_ONLY = ["./bridge", "./server"];

/** Node's PACKAGE_TARGET_RESOLVE for conditions: the first key (in order) that is "default" or a condition and resolves. */
function target(t: unknown, conditions: readonly string[]): string | undefined {
  if (typeof t === "string") return t;
  if (t === null || typeof t !== "object") return undefined;
  for (const [k, v] of Object.entries(t)) {
    if (k !== "default" && !conditions.includes(k)) continue;
    const r = target(v, conditions);
    if (r !== undefined) return r;
  }
  return undefined;
}

// TypeScript adds "types" to the conditions; "bundler" resolution does not add "node".
const RESOLVERS = {
  "tsc bundler": ["types", "import"],
  "tsc nodenext import": ["types", "node", "import"],
  "tsc nodenext require": ["types", "node", "require"],
  "node import": ["node", "import"],
  "node require": ["node", "require"],
  "browser bundler": ["browser", "import", "module"],
} as const;

describe("package.json exports", () => {
  it.each(subpaths)("%s: types resolve under bundler and nodenext (import and require)", (sub) => {
    expect(target(exportsMap[sub], RESOLVERS["tsc bundler"])).toMatch(/^\.\/dist\/[\w-]+\.d\.ts$/);
    expect(target(exportsMap[sub], RESOLVERS["tsc nodenext import"])).toMatch(/^\.\/dist\/[\w-]+\.d\.ts$/);
    expect(target(exportsMap[sub], RESOLVERS["tsc nodenext require"])).toMatch(/^\.\/dist\/[\w-]+\.d\.cts$/);
  });

  it.each(subpaths)("%s: Node gets JavaScript; a browser bundler gets it only for modules that run in browsers", (sub) => {
    expect(target(exportsMap[sub], RESOLVERS["node import"])).toMatch(/^\.\/dist\/[\w-]+\.js$/);
    expect(target(exportsMap[sub], RESOLVERS["node require"])).toMatch(/^\.\/dist\/[\w-]+\.cjs$/);
    const browser = target(exportsMap[sub], RESOLVERS["browser bundler"]);
    if (NODE_ONLY.includes(sub)) expect(browser).toBeUndefined();
    else expect(browser).toMatch(/^\.\/dist\/[\w-]+\.js$/);
  });

  it("the root entry picks each runtime's own build: browser, deno, node (import and require)", () => {
    const root = exportsMap["."];
    expect(target(root, RESOLVERS["browser bundler"])).toBe("./dist/browser.js");
    expect(target(root, ["types", "browser", "import"])).toBe("./dist/browser.d.ts");
    expect(target(root, ["deno", "import"])).toBe("./dist/deno.js");
    expect(target(root, RESOLVERS["node import"])).toBe("./dist/node.js");
    expect(target(root, RESOLVERS["node require"])).toBe("./dist/node.cjs");
  });

  it("every target is a file the tsup config builds, types next to their code", () => {
    const entries = new Set<string>(pkg.tsup.flatMap((c: { entry: Record<string, string> }) => Object.keys(c.entry)));
    for (const sub of subpaths) {
      for (const conditions of Object.values(RESOLVERS)) {
        const file = target(exportsMap[sub], conditions);
        if (file === undefined) continue;
        expect(entries.has(file.replace(/^\.\/dist\/|\.(d\.)?c?[jt]s$/g, "")), `${sub} → ${file}`).toBe(true);
      }
      expect(target(exportsMap[sub], RESOLVERS["tsc nodenext import"])!.replace(/\.d\.ts$/, ""))
        .toBe(target(exportsMap[sub], RESOLVERS["node import"])!.replace(/\.js$/, ""));
    }
  });

  it("published types leave out @internal members", () => {
    expect(pkg.tsup[0].dts).toEqual({ compilerOptions: { stripInternal: true } });
  });
});
