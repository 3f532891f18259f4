// The job server's state machine is runtime-agnostic like src/core: only node.ts and cli.ts may
// touch Node, and imports point at the protocol codec, the transport seam, errors and itself.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const DIR = resolve(import.meta.dirname, "../../../src/server");
const NODE_ONLY = new Set(["node.ts", "cli.ts"]);
const ALLOWED = /^(\.\/[a-z0-9-]+\.ts|\.\.\/protocol\/[a-z0-9-]+\.ts|\.\.\/core\/transport\.ts|\.\.\/errors\.ts)$/;
const GLOBALS = /\b(process|Buffer|require|Deno|window|document|setImmediate|navigator)\s*[.([]/;

describe("src/server portability", () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith(".ts") && !NODE_ONLY.has(f))) {
    it(`${file} imports only portable modules and uses no runtime globals`, () => {
      const text = readFileSync(join(DIR, file), "utf8");
      expect(text.startsWith("// Runtime-agnostic: no Node, Deno or DOM APIs.\n")).toBe(true);
      const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^"']*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]!);
      expect(specifiers.filter((s) => !ALLOWED.test(s))).toEqual([]);
      const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "").replace(/(["'`])(?:\\.|(?!\1).)*\1/g, '""');
      expect(code.match(GLOBALS)).toBeNull();
    });
  }
});
