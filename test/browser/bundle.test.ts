// Node + Chromium: the published browser bundle (dist/gearman.global.js, global `Gearman`) loaded
// with a plain <script> tag, talking through the bridge to a real gearmand, with Node peers on
// both sides. Needs `npm run build` first.
import { existsSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, inject, test } from "vitest";
import { type Bridge, startBridge } from "../../bridge/bridge.ts";
import { Client, partitioned, Worker } from "../../src/node.ts";
import { type Chromium, launchChromium, screenshot } from "../support/chromium.ts";

// The page's global, typed as the browser entry (a type-only import: nothing is loaded in Node).
declare global {
  var Gearman: typeof import("../../src/browser.ts");
  var bundleWorker: InstanceType<typeof import("../../src/browser.ts").Worker> | undefined;
  var bundleClient: InstanceType<typeof import("../../src/browser.ts").Client> | undefined;
  var GearmanEsm: typeof import("../../src/browser.ts") | undefined;
}

const DIST = join(import.meta.dirname, "..", "..", "dist");
const BUNDLE = join(DIST, "gearman.global.js");
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bundle</title><link rel="icon" href="data:,">
<script src="/gearman.global.js"></script></head><body><p>plain page with the IIFE bundle</p></body></html>`;
// The published ESM bundle, loaded as a module by a page with no build step.
const ESM_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>esm</title><link rel="icon" href="data:,">
<script type="module">import * as Gearman from "/gearman.js"; globalThis.GearmanEsm = Gearman;</script></head><body></body></html>`;
// The whole browser API in one file (map/reduce, admin client, codec, memory transport); a page that imports only
// Client and Worker from it gets the core + WebSocket budget of test/unit/bundle-size.test.ts (12 KiB).
const SHIPPED_BUDGET = 17 * 1024;
// Function names of this run: the gearmand is shared with other browser tests.
const P = `bundle${process.pid}`;

let http: Server;
let bridge: Bridge;
let chrome: Chromium;
let page: Page;
let origin: string;
let wsUrl: string;
let gearmand: string;
const nodePeers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` before the browser tests`);
  gearmand = `127.0.0.1:${inject("gearmandPort")}`;
  http = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/") return void res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(PAGE);
    if (path === "/esm") return void res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(ESM_PAGE);
    if (/^\/gearman(\.global)?\.js(\.map)?$/.test(path)) {
      return void res.writeHead(200, { "Content-Type": path.endsWith(".js") ? "text/javascript" : "application/json" })
        .end(readFileSync(join(DIST, path.slice(1))));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const port = (http.address() as { port: number }).port;
  origin = `http://127.0.0.1:${port}`;
  wsUrl = `ws://127.0.0.1:${port}/gearman`;
  bridge = await startBridge({
    upstream: gearmand,
    server: http,
    path: "/gearman",
    policy: {
      origins: [origin],
      verify: () => Promise.resolve({ id: "bundle-test", roles: ["client", "worker"], submit: [`${P}.*`], register: [`${P}.*`] }),
    },
    logger: () => {},
  });
  chrome = await launchChromium();
  page = await chrome.newPage();
  await page.goto(`${origin}/`);
});

afterAll(async () => {
  await page?.evaluate(async () => {
    await globalThis.bundleClient?.close();
    await globalThis.bundleWorker?.stop({ graceful: false });
  }).catch(() => {});
  for (const p of nodePeers) await p.close().catch(() => {});
  await chrome?.close();
  await bridge?.close();
  await new Promise((r) => http?.close(r));
});

afterEach(() => {
  const errors = chrome.errors.splice(0);
  expect(errors).toEqual([]);
});

const dec = new TextDecoder();

test("the IIFE bundle defines the Gearman global with the browser entry's names", async () => {
  const names = await page.evaluate(() => Object.keys(globalThis.Gearman).sort());
  for (const n of ["Client", "Worker", "GearmanReturn", "AdminClient", "PacketType", "websocketConnector", "VERSION"]) {
    expect(names).toContain(n);
  }
  // Browsers cannot open TCP: the message names the bridge.
  const refusal = await page.evaluate(() => {
    try {
      new globalThis.Gearman.Client({ servers: ["tcp://127.0.0.1:4730"] });
      return "accepted";
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  });
  expect(refusal).toMatch(/^TypeError: .*bridge/);
});

test("a browser worker serves Node clients (through the bridge and over TCP)", async () => {
  await page.evaluate(async ([url, fn]) => {
    const w = new globalThis.Gearman.Worker({ servers: [url], concurrency: 2 });
    w.defineFunction(`${fn}.upper`, (job) => job.text().toUpperCase());
    w.defineFunction(`${fn}.count`, (job) => String(job.text().split(/\s+/).filter(Boolean).length));
    w.defineFunction(`${fn}.progress`, (job) => {
      for (let i = 1; i <= 3; i++) job.sendStatus(i, 3);
      return "done";
    });
    globalThis.bundleWorker = w;
    await w.start();
  }, [wsUrl, P] as const);

  const viaBridge = new Client({ servers: [wsUrl] });
  const viaTcp = new Client({ servers: [gearmand] });
  nodePeers.push(viaBridge, viaTcp);
  expect(dec.decode(await viaBridge.execute(`${P}.upper`, "from node via the bridge"))).toBe("FROM NODE VIA THE BRIDGE");
  expect(dec.decode(await viaTcp.execute(`${P}.upper`, "from node over tcp"))).toBe("FROM NODE OVER TCP");
  const task = viaTcp.submit(`${P}.progress`, "");
  const statuses: string[] = [];
  task.on("status", (e) => statuses.push(`${e.numerator}/${e.denominator}`));
  expect(dec.decode(await task.result())).toBe("done");
  expect(statuses).toEqual(["1/3", "2/3", "3/3"]);
});

test("a Node worker serves the browser client", async () => {
  const w = new Worker({ servers: [gearmand] });
  nodePeers.push({ close: () => w.stop({ graceful: false }) });
  w.defineFunction(`${P}.reverse`, (job) => [...job.text()].reverse().join(""));
  await w.start();
  const out = await page.evaluate(async ([url, fn]) => {
    const c = (globalThis.bundleClient ??= new globalThis.Gearman.Client({ servers: [url] }));
    const events: string[] = [];
    const task = c.submit(`${fn}.reverse`, "browser → node", { priority: "high" });
    task.on("*", (e) => events.push(e.type));
    const result = new TextDecoder().decode(await task.result());
    const background = await c.submitBackground(`${fn}.reverse`, "in the background");
    return { result, events, background };
  }, [wsUrl, P] as const);
  expect(out.result).toBe("edon → resworb");
  expect(out.events).toEqual(["created", "complete"]);
  expect(out.background).toMatch(/^H:/);
});

test("map/reduce: a Node mapper, the browser as the reducer", async () => {
  const mapper = new Worker({ servers: [gearmand] });
  nodePeers.push({ close: () => mapper.stop({ graceful: false }) });
  mapper.defineFunction(`${P}.map`, partitioned({
    partition: async (job) => {
      for (const line of job.text().split("\n")) await job.sendData(line);
    },
    aggregate: (results) => String(results.reduce((sum, r) => sum + Number(dec.decode(r)), 0)),
  }));
  await mapper.start();
  const text = "one two three\nfour five\nsix\nseven eight nine ten";
  const client = new Client({ servers: [gearmand] });
  nodePeers.push(client);
  // The reducer is `${P}.count`, which only the browser worker defines.
  expect(dec.decode(await client.executeReduce(`${P}.map`, `${P}.count`, text))).toBe("10");

  // And submitted from the browser, through the bridge.
  const fromBrowser = await page.evaluate(async ([url, fn, payload]) => {
    const c = (globalThis.bundleClient ??= new globalThis.Gearman.Client({ servers: [url] }));
    return new TextDecoder().decode(await c.executeReduce(`${fn}.map`, `${fn}.count`, payload));
  }, [wsUrl, P, text] as const);
  expect(fromBrowser).toBe("10");
  await screenshot(page, "bundle-page");
});

test(`the shipped bundles (<script> and ESM) stay within ${SHIPPED_BUDGET} bytes gzipped`, () => {
  for (const file of ["gearman.global.js", "gearman.js"]) {
    const gz = gzipSync(readFileSync(join(DIST, file))).length;
    expect(gz, `${file}: ${gz} B gzipped`).toBeLessThanOrEqual(SHIPPED_BUDGET);
  }
});

test("the ESM bundle (dist/gearman.js) loads as a module and runs a worker and a client through the bridge", async () => {
  const esm = await chrome.newPage();
  try {
    await esm.goto(`${origin}/esm`);
    await esm.waitForFunction(() => globalThis.GearmanEsm !== undefined);
    const out = await esm.evaluate(async ([url, fn]) => {
      const G = globalThis.GearmanEsm!;
      const w = new G.Worker({ servers: [url] });
      w.defineFunction(`${fn}.esm`, (job) => `esm:${job.text()}`);
      await w.start();
      const c = new G.Client({ servers: [url] });
      try {
        return new TextDecoder().decode(await c.execute(`${fn}.esm`, "module"));
      } finally {
        await c.close();
        await w.stop();
      }
    }, [wsUrl, P] as const);
    expect(out).toBe("esm:module");
  } finally {
    await esm.close();
  }
});
