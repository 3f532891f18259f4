// The runtime entries export the same names (only the default connector differs), and versions agree.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import * as browser from "../../src/browser.ts";
import * as node from "../../src/node.ts";
import { VERSION } from "../../src/version.ts";

const root = resolve(__dirname, "../..");

/** Export names of a module, read with the TypeScript checker (src/deno.ts cannot be imported by Node). */
function exportNames(file: string): string[] {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true, noEmit: true, lib: ["lib.es2022.d.ts", "lib.dom.d.ts"], types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const symbol = checker.getSymbolAtLocation(source)!;
  return checker.getExportsOfModule(symbol).map((s) => s.getName()).sort();
}

describe("entries", () => {
  it("node and browser entries export the same runtime values", () => {
    expect(Object.keys(browser).sort()).toEqual(Object.keys(node).sort());
  });

  it("node, deno and browser entries export the same names, types included", () => {
    const n = exportNames(resolve(root, "src/node.ts"));
    expect(n.length).toBeGreaterThan(40);
    expect(exportNames(resolve(root, "src/deno.ts"))).toEqual(n);
    expect(exportNames(resolve(root, "src/browser.ts"))).toEqual(n);
  });

  it("VERSION equals package.json and deno.json versions", () => {
    const pkg = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8"));
    const deno = JSON.parse(readFileSync(resolve(root, "deno.json"), "utf8"));
    expect(pkg.version).toBe(VERSION);
    expect(deno.version).toBe(VERSION);
  });

  it("the browser entry refuses tcp:// and names the bridge", () => {
    expect(() => new browser.Client({ servers: ["tcp://127.0.0.1:4730"] })).toThrow(/bridge/);
  });
});
