// Node + Chromium: README's browser examples as written, page lifecycle (stop/close leave no WebSocket, a tab closed
// mid-job hands the job to another worker) and backpressure of a browser worker streaming large WORK_DATA.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, test } from "vitest";
import { Client, Worker } from "../../src/node.ts";
import { startBridgeProcess } from "../support/bridge-process.ts";
import { freePort } from "../support/gearmand.ts";
import { type Harness, pageErrors, pageWith, type Peer, startHarness, teardown, TOKENS, until } from "./lifecycle-harness.ts";

let h: Harness;
const peers: Peer[] = [];
const dec = new TextDecoder();

// README's `<script>` example, verbatim but for the bridge URL, after a stand-in for the app's makeThumbnail().
const README = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
const readmeWorker = (url: string): string => {
  const block = /A browser worker, with the `<script>` bundle:\n\n```html\n([\s\S]*?)```/.exec(README)?.[1];
  if (!block) throw new Error("README's browser worker example not found");
  return pageWith(`<script>async function makeThumbnail(b) { return b.slice().reverse(); }</script>\n${
    block.replace('"wss://jobs.example.com/gearman"', JSON.stringify(url))}`);
};

// A bridge started only after the page loaded (README example with no bridge reachable at first).
let laterPort = 0;

beforeAll(async () => {
  laterPort = await freePort();
  h = await startHarness({
    limits: { maxPacketSize: 4 << 20 },
    pages: {
      "/readme-worker.html": readmeWorker,
      "/readme-worker-later.html": () => readmeWorker(`ws://127.0.0.1:${laterPort}/gearman`),
      "/esm.html": () => pageWith('<script type="module">import { Client, Worker } from "/gearman.js"; globalThis.esm = { Client, Worker };</script>'),
    },
  });
});

teardown(() => h, peers, "fail");

test("README's <script> worker example serves a Node client (status, Uint8Array in and out)", async () => {
  const page = await h.open("/readme-worker.html");
  const client = new Client({ servers: [h.gearmand.address] });
  peers.push(client);
  const task = client.submit("shop.thumbnail", new Uint8Array([1, 2, 3]));
  const statuses: string[] = [];
  task.on("status", (e) => statuses.push(`${e.numerator}/${e.denominator}`));
  expect([...await task.result()]).toEqual([3, 2, 1]);
  expect(statuses).toEqual(["1/2"]);
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
});

test("README's <script> worker example with the bridge not up yet: no unhandled rejection, and it serves once the bridge is up", async () => {
  const page = await h.open("/readme-worker-later.html");
  await new Promise((r) => setTimeout(r, 1000));
  const later = await startBridgeProcess({ upstream: h.gearmand.address, port: laterPort, policy: { origins: [h.origin], tokens: TOKENS } });
  try {
    const client = new Client({ servers: [h.gearmand.address] });
    peers.push(client);
    expect([...await client.execute("shop.thumbnail", new Uint8Array([4, 5]), { timeout: 20_000 })]).toEqual([5, 4]);
    expect(await pageErrors(page)).toEqual([]);
    await page.close();
  } finally {
    await later.close();
  }
  // Chromium's own log line for each refused connect is expected here.
  const errors = h.chrome.errors.splice(0).filter((e) => !/console\.error: WebSocket connection to .* failed/.test(e));
  expect(errors).toEqual([]);
}, 40_000);

test("the ESM bundle: import { Client, Worker } in a module script", async () => {
  const page = await h.open("/esm.html");
  await until(() => page.evaluate(() => "esm" in globalThis), 5000, "the module script");
  const out = await page.evaluate(async (url) => {
    const { Client, Worker } = (globalThis as unknown as { esm: typeof globalThis.Gearman }).esm;
    const w = new Worker({ servers: [url], token: "tok-both" });
    w.defineFunction("lc.esm", (job) => `esm ${job.text()}`);
    await w.start();
    const c = new Client({ servers: [url], token: "tok-both" });
    const r = new TextDecoder().decode(await c.execute("lc.esm", "ok", { timeout: 10_000 }));
    await c.close();
    await w.stop();
    return r;
  }, h.wsUrl);
  expect(out).toBe("esm ok");
  await until(async () => (await h.bridge.stats()).connections === 0, 5000, "no connection left");
  await page.close();
});

test("worker.stop() and client.close() leave no WebSocket open, also with a reconnect or a connect still out", async () => {
  const page = await h.open();
  await page.evaluate(async (url) => {
    const w = new globalThis.Gearman.Worker({ servers: [url], token: "tok-both" });
    w.defineFunction("lc.x", (job) => job.text());
    await w.start();
    const c = new globalThis.Gearman.Client({ servers: [url], token: "tok-both" });
    await c.echo("hi");
    globalThis.t.w = w;
    globalThis.t.c = c;
  }, h.wsUrl);
  expect((await h.bridge.stats()).connections).toBe(2);
  await page.evaluate(async () => {
    await globalThis.t.c.close();
    await globalThis.t.w.stop();
  });
  await until(async () => (await h.bridge.stats()).connections === 0, 5000, "no connection left after stop/close");
  // stop()/close() right after start()/submit(), while the WebSockets are still connecting.
  const early = await page.evaluate(async (url) => {
    const w = new globalThis.Gearman.Worker({ servers: [url], token: "tok-both" });
    w.defineFunction("lc.x", (job) => job.text());
    const started = w.start().then(() => "started", (e: Error) => e.name);
    const c = new globalThis.Gearman.Client({ servers: [url], token: "tok-both" });
    const echoed = c.echo("x").then(() => "echoed", (e: Error) => e.name);
    await Promise.all([w.stop(), c.close()]);
    return [await started, await echoed];
  }, h.wsUrl);
  expect(early).toEqual(["ClosedError", "ClosedError"]);
  await new Promise((r) => setTimeout(r, 500));
  expect((await h.bridge.stats()).connections).toBe(0);
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
});

test("a tab closed mid-job: gearmand gives the job to another worker, the client gets one result", async () => {
  const page = await h.open();
  await page.evaluate(async (url) => {
    const w = new globalThis.Gearman.Worker({ servers: [url], token: "tok-both" });
    globalThis.t.started = false;
    w.defineFunction("lc.tab", async () => {
      globalThis.t.started = true;
      await new Promise(() => {});
    });
    await w.start();
  }, h.wsUrl);
  const client = new Client({ servers: [h.gearmand.address] });
  peers.push(client);
  const result = client.execute("lc.tab", "job", { timeout: 15_000 });
  await until(() => page.evaluate(() => globalThis.t.started), 5000, "the job to start in the tab");
  const node = new Worker({ servers: [h.gearmand.address] });
  peers.push({ close: () => node.stop({ graceful: false }) });
  node.defineFunction("lc.tab", (job) => `node ${job.text()}`);
  await node.start();
  await page.close();
  expect(dec.decode(await result)).toBe("node job");
  await until(async () => (await h.bridge.stats()).connections === 0, 5000, "the tab's WebSocket gone");
});

test("backpressure: a browser worker streaming 48 MiB of WORK_DATA keeps bufferedAmount bounded", async () => {
  const page = await h.open();
  await page.evaluate(async (url) => {
    // Samples bufferedAmount right after every send of every WebSocket of the page.
    const send = WebSocket.prototype.send;
    globalThis.t.maxBuffered = 0;
    WebSocket.prototype.send = function (this: WebSocket, data: Parameters<WebSocket["send"]>[0]) {
      send.call(this, data);
      globalThis.t.maxBuffered = Math.max(globalThis.t.maxBuffered, this.bufferedAmount);
    };
    const w = new globalThis.Gearman.Worker({ servers: [url], token: "tok-both" });
    w.defineFunction("lc.stream", async (job) => {
      const chunk = new Uint8Array(1 << 20).fill(1);
      for (let i = 0; i < 48; i++) await job.sendData(chunk);
      return "end";
    });
    globalThis.t.w = w;
    await w.start();
  }, h.wsUrl);
  const client = new Client({ servers: [h.gearmand.address] });
  peers.push(client);
  const task = client.submit("lc.stream", "", { collect: false });
  let bytes = 0;
  task.on("data", (e) => (bytes += e.data.length));
  expect(dec.decode(await task.result())).toBe("end");
  expect(bytes).toBe(48 << 20);
  const max = await page.evaluate(() => globalThis.t.maxBuffered);
  // The high-water mark (1 MiB) plus about one chunk: measured ~1.9 MiB.
  expect(max).toBeLessThan(3 << 20);
  await page.evaluate(() => globalThis.t.w.stop());
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
}, 60_000);
