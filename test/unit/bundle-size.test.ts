// Node: the browser entry's weight and hygiene (hono's bundle-check idea). A page that imports
// Client, Worker and GearmanReturn must stay small and free of Node built-ins. Runs esbuild's
// JS API (it starts the esbuild service process; no sockets, no network).
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { describe, expect, test, vi } from "vitest";
import { Client, Worker } from "../../src/browser.ts";

const BUDGET = 12 * 1024;

async function bundle(): Promise<{ code: string; inputs: string[]; imports: string[] }> {
  const result = await build({
    stdin: {
      contents: 'export { Client, Worker, GearmanReturn } from "../../src/browser.ts";',
      resolveDir: import.meta.dirname,
      sourcefile: "entry.ts",
      loader: "ts",
    },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const out = result.outputFiles[0]!;
  const inputs = Object.keys(result.metafile.inputs);
  const imports = Object.values(result.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
  return { code: out.text, inputs, imports };
}

describe("browser bundle", () => {
  test(`Client + Worker + GearmanReturn minified for the browser: gzip ≤ ${BUDGET} bytes`, async () => {
    const { code } = await bundle();
    const gz = gzipSync(code).length;
    expect(gz, `gzip size ${gz} B (minified ${code.length} B)`).toBeLessThanOrEqual(BUDGET);
  });

  test("no node: specifiers, no Node-only modules", async () => {
    const { code, inputs, imports } = await bundle();
    expect(code).not.toMatch(/["'`]node:/);
    expect(imports.filter((p) => p.startsWith("node:") || p === "ws")).toEqual([]);
    // Only the browser entry, the core and the WebSocket transport: no TCP, no bridge, no server.
    expect(inputs.filter((p) => /tcp-node|node-connector|bridge\/|src\/server\//.test(p))).toEqual([]);
    expect(inputs.some((p) => p.endsWith("src/transports/websocket.ts"))).toBe(true);
  });

  test("the browser Client and Worker refuse tcp:// and host:port, naming the bridge", () => {
    for (const servers of [["tcp://127.0.0.1:4730"], ["127.0.0.1:4730"]]) {
      expect(() => new Client({ servers })).toThrow(TypeError);
      expect(() => new Client({ servers })).toThrow(/bridge/);
      expect(() => new Worker({ servers })).toThrow(/bridge/);
    }
    // ws:// is accepted where there is a WebSocket (nothing connects until the first submit).
    vi.stubGlobal("WebSocket", class {});
    try {
      expect(() => new Client({ servers: ["ws://127.0.0.1:1/gearman"] })).not.toThrow();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
