// Node + Chromium: the shared conformance suite (test/support/conformance.ts, bundled here with
// esbuild as an IIFE) run in a real page against the SDK's browser bundle (dist/gearman.global.js,
// global `Gearman`), through the bridge to the run's job server. All cases run in the page once;
// each becomes one test here. Needs `npm run build` first.
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { type Bridge, startBridge } from "../../bridge/bridge.ts";
import { type Chromium, launchChromium } from "../support/chromium.ts";
import { type ConformanceResult, conformanceCases } from "../support/conformance.ts";

// The page's globals, typed as the modules they are built from (type-only: nothing loads in Node).
declare global {
  var Gearman: typeof import("../../src/browser.ts");
  var Conformance: typeof import("../support/conformance.ts");
}

const ROOT = join(import.meta.dirname, "..", "..");
const BUNDLE = join(ROOT, "dist", "gearman.global.js");
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>conformance</title><link rel="icon" href="data:,">
<script src="/gearman.global.js"></script><script src="/conformance.js"></script></head>
<body><p>gearman-sdk conformance suite</p></body></html>`;
// Function names of this run: the job server is shared with other browser tests.
const PREFIX = `confbrowser${process.pid}`;
const TOKEN = "conformance-token";

let http: Server;
let bridge: Bridge;
let chrome: Chromium;
let page: Page;
const results = new Map<string, ConformanceResult>();

async function bundleCases(): Promise<string> {
  const { build } = await import("esbuild");
  const out = await build({
    entryPoints: [join(ROOT, "test", "support", "conformance.ts")],
    bundle: true, format: "iife", globalName: "Conformance", platform: "browser", target: "es2022", write: false, logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` before the browser tests`);
  const cases = await bundleCases();
  // The suite must use the SDK it is given, never a copy of its own.
  expect(cases).not.toMatch(/class \w*Client\b|PacketDecoder/);
  http = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/") return void res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(PAGE);
    if (path === "/gearman.global.js") return void res.writeHead(200, { "Content-Type": "text/javascript" }).end(readFileSync(BUNDLE));
    if (path === "/conformance.js") return void res.writeHead(200, { "Content-Type": "text/javascript" }).end(cases);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const port = (http.address() as { port: number }).port;
  const origin = `http://127.0.0.1:${port}`;
  bridge = await startBridge({
    upstream: `127.0.0.1:${inject("gearmandPort")}`,
    server: http,
    path: "/gearman",
    policy: {
      origins: [origin],
      tokens: { [TOKEN]: { id: "conformance", roles: ["client", "worker"], submit: [`${PREFIX}.*`], register: [`${PREFIX}.*`] } },
    },
    // The 1 MiB case sends a packet of 1 MiB plus its other fields; the default cap is 1 MiB.
    limits: { maxPacketSize: 4 << 20 },
    logger: () => {},
  });
  chrome = await launchChromium();
  page = await chrome.newPage();
  await page.goto(`${origin}/`);
  const run = await page.evaluate(([url, token, prefix]) =>
    globalThis.Conformance.runConformance(
      { sdk: globalThis.Gearman, servers: [url], options: { token }, prefix },
      { timeoutMs: 25_000 },
    ), [`ws://127.0.0.1:${port}/gearman`, TOKEN, PREFIX] as const);
  for (const r of run) results.set(r.name, r);
}, 180_000);

afterAll(async () => {
  await chrome?.close();
  await bridge?.close();
  await new Promise((r) => http?.close(r));
});

it.each(conformanceCases.map((c) => c.name))("chromium-ws-bridge > %s", (name) => {
  const r = results.get(name);
  expect(r, `no result for "${name}"`).toBeDefined();
  if (!r!.ok) throw new Error(`in Chromium: ${r!.error}`);
});

it("the page logged no console errors", () => {
  expect(chrome.errors).toEqual([]);
});
