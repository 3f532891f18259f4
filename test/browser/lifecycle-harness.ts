// Node: shared set-up of the browser lifecycle tests (lifecycle-*.test.ts): a private gearmand (restartable on its
// port), the bridge in its own process (restartable on its port), an HTTP server for the page, the browser entry
// bundled from src/browser.ts (IIFE global `Gearman` and ESM), and a Chromium page recording every error.
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, expect } from "vitest";
import { type BridgeProcess, startBridgeProcess } from "../support/bridge-process.ts";
import type { BridgeLimits, Principal } from "../../bridge/bridge.ts";
import { type Chromium, launchChromium } from "../support/chromium.ts";
import { freePort, type Gearmand, startGearmand } from "../support/gearmand.ts";

declare global {
  var Gearman: typeof import("../../src/browser.ts");
  var pageErrors: string[];
  // deno-lint-ignore no-explicit-any
  var t: Record<string, any>;
}

const ROOT = join(import.meta.dirname, "..", "..");
export const HMAC_SECRET: string = "lifecycle-test-secret-0123456789abcdef";
export const TOKENS: Record<string, Principal> = {
  "tok-client": { id: "page-client", roles: ["client"], submit: ["lc.*"] },
  "tok-worker": { id: "page-worker", roles: ["worker"], register: ["lc.*"] },
  "tok-both": { id: "page-both", roles: ["client", "worker"], submit: ["lc.*"], register: ["lc.*"] },
  // README's policy example.
  "page-token-1": { id: "shop-web", roles: ["client"], submit: ["shop.*"] },
  "worker-token-1": { id: "shop-browser-worker", roles: ["worker"], register: ["shop.thumbnail"] },
};

// Every page records uncaught errors and unhandled rejections itself too (pageErrors), besides chromium.errors.
const PAGE = (head: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lifecycle</title><link rel="icon" href="data:,">
<script>
  globalThis.pageErrors = []; globalThis.t = {};
  addEventListener("error", (e) => pageErrors.push("error: " + e.message));
  addEventListener("unhandledrejection", (e) => pageErrors.push("unhandled: " + (e.reason && e.reason.name) + ": " + (e.reason && e.reason.message)));
</script>
${head}</head><body><p>lifecycle</p></body></html>`;

async function bundles(): Promise<{ iife: string; esm: string }> {
  const { build } = await import("esbuild");
  const one = async (format: "iife" | "esm"): Promise<string> => (await build({
    entryPoints: [join(ROOT, "src", "browser.ts")], bundle: true, format, globalName: format === "iife" ? "Gearman" : undefined,
    platform: "browser", target: "es2022", minify: true, write: false, logLevel: "silent",
  })).outputFiles[0]!.text;
  return { iife: await one("iife"), esm: await one("esm") };
}

export interface Harness {
  gearmand: Gearmand;
  bridge: BridgeProcess;
  chrome: Chromium;
  origin: string;
  wsUrl: string;
  /** A fresh tab on `/` (IIFE bundle loaded), or on another path of `pages`. */
  open(path?: string): Promise<Page>;
  /** Stops gearmand and starts it again on the same port. */
  restartGearmand(): Promise<void>;
  close(): Promise<void>;
}

/** Starts everything; `pages` maps extra paths to whole HTML documents (e.g. README examples), made from the bridge URL. */
export async function startHarness(options: { limits?: BridgeLimits; pages?: Record<string, (wsUrl: string) => string> } = {}): Promise<Harness> {
  const { iife, esm } = await bundles();
  const port = await freePort();
  let gearmand = await startGearmand({ real: true, port, args: ["--threads=0"] });
  const http: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const js = (body: string): void => void res.writeHead(200, { "Content-Type": "text/javascript" }).end(body);
    if (path === "/") return void res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(PAGE('<script src="/gearman.global.js"></script>'));
    if (path === "/gearman.global.js") return js(iife);
    if (path === "/gearman.js") return js(esm);
    const page = options.pages?.[path];
    if (page !== undefined) return void res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page(wsUrl));
    res.writeHead(404).end();
  });
  let wsUrl = "";
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  const bridge = await startBridgeProcess({
    upstream: `127.0.0.1:${port}`,
    policy: { origins: [origin], tokens: TOKENS, hmac: { secret: HMAC_SECRET } },
    limits: options.limits,
  });
  wsUrl = bridge.url;
  const chrome = await launchChromium();
  return {
    get gearmand() {
      return gearmand;
    },
    bridge,
    chrome,
    origin,
    wsUrl: bridge.url,
    async open(path = "/") {
      const page = await chrome.newPage();
      await page.goto(`${origin}${path}`);
      return page;
    },
    async restartGearmand() {
      await gearmand.stop();
      gearmand = await startGearmand({ real: true, port, args: ["--threads=0"] });
    },
    async close() {
      await chrome.close();
      await bridge.close();
      await new Promise((r) => http.close(r));
      await gearmand.stop();
    },
  };
}

export { PAGE as pageWith };

/** Polls `check` until it returns true (or throws after `ms`). */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Something a test opened and the file closes: a Worker, a Client, a process. */
export interface Peer {
  close(): Promise<void>;
}

/**
 * Registers a test file's teardown: its `peers` closed after each test, the harness closed at the end; with
 * `consoleErrors: "fail"`, a test also fails on a Chromium console error.
 */
export function teardown(harness: () => Harness | undefined, peers: Peer[], consoleErrors: "fail" | "allow"): void {
  afterAll(async () => {
    for (const p of peers) await p.close().catch(() => {});
    await harness()?.close();
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.close().catch(() => {});
    if (consoleErrors === "fail") expect(harness()!.chrome.errors.splice(0)).toEqual([]);
  });
}

/** The uncaught errors and unhandled rejections the page recorded itself. */
export async function pageErrors(page: Page): Promise<string[]> {
  return await page.evaluate(() => globalThis.pageErrors);
}
