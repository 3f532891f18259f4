// Node + Chromium: a browser Worker and Client (browser entry bundled from src/browser.ts) through a bridge in its own
// process, while the bridge restarts on its port and gearmand restarts behind it: the worker serves again, tasks in
// flight end with the typed errors README promises, and the page has no uncaught error or unhandled rejection.
import type { Page } from "playwright-core";
import { beforeAll, expect, test } from "vitest";
import { Client, Worker } from "../../src/node.ts";
import { type Harness, pageErrors, type Peer, startHarness, teardown, until } from "./lifecycle-harness.ts";

let h: Harness;
const peers: Peer[] = [];
const dec = new TextDecoder();

beforeAll(async () => {
  h = await startHarness();
});

teardown(() => h, peers, "fail");

/** A browser worker of `lc.<name>` that upper-cases, after `delay` ms (job.signal aborts the wait). */
async function browserWorker(page: Page, name: string, delay = 0): Promise<void> {
  await page.evaluate(async ([url, fn, ms]) => {
    const w = new globalThis.Gearman.Worker({ servers: [url], token: "tok-worker", reconnectDelay: 50, maxReconnectDelay: 500 });
    globalThis.t.runs = 0;
    w.defineFunction(fn, async (job) => {
      globalThis.t.runs++;
      await new Promise((r) => setTimeout(r, ms));
      return job.text().toUpperCase();
    });
    globalThis.t.worker = w;
    await w.start();
  }, [h.wsUrl, `lc.${name}`, delay] as const);
}

test("bridge restart while the browser worker is idle: it reconnects and serves again", async () => {
  const page = await h.open();
  await browserWorker(page, "idle");
  const client = new Client({ servers: [h.gearmand.address] });
  peers.push(client);
  expect(dec.decode(await client.execute("lc.idle", "a", { timeout: 5000 }))).toBe("A");
  await h.bridge.restart();
  expect(dec.decode(await client.execute("lc.idle", "b", { timeout: 10_000 }))).toBe("B");
  await page.evaluate(() => globalThis.t.worker.stop());
  await until(async () => (await h.bridge.stats()).connections === 0, 5000, "no connection left");
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
});

test("bridge restart while the browser worker runs a job: the job runs again and completes once", async () => {
  const page = await h.open();
  await browserWorker(page, "busy", 1500);
  const client = new Client({ servers: [h.gearmand.address] });
  peers.push(client);
  const result = client.execute("lc.busy", "x", { timeout: 20_000 });
  await until(async () => (await page.evaluate(() => globalThis.t.runs)) === 1, 5000, "the job to start");
  await h.bridge.restart();
  expect(dec.decode(await result)).toBe("X");
  expect(await page.evaluate(() => globalThis.t.runs)).toBe(2);
  await page.evaluate(() => globalThis.t.worker.stop());
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
});

test("bridge restart with browser client tasks in flight: ConnectionError, then the client works again", async () => {
  const w = new Worker({ servers: [h.gearmand.address], concurrency: 10 });
  peers.push({ close: () => w.stop({ graceful: false }) });
  w.defineFunction("lc.slow", async (job) => {
    await new Promise((r) => setTimeout(r, job.text() === "slow" ? 3000 : 0));
    return job.text();
  });
  await w.start();
  const page = await h.open();
  const pending = page.evaluate(async (url) => {
    const c = new globalThis.Gearman.Client({ servers: [url], token: "tok-client", reconnectDelay: 50, maxReconnectDelay: 500 });
    globalThis.t.client = c;
    const tasks = [1, 2, 3].map(() => c.execute("lc.slow", "slow").then((r) => `ok ${new TextDecoder().decode(r)}`, (e: Error) => e.name));
    globalThis.t.submitted = true;
    return await Promise.all(tasks);
  }, h.wsUrl);
  await until(() => page.evaluate(() => globalThis.t.submitted === true), 5000, "submits");
  await new Promise((r) => setTimeout(r, 500));
  await h.bridge.restart();
  expect(await pending).toEqual(["ConnectionError", "ConnectionError", "ConnectionError"]);
  const again = await page.evaluate(async () => new TextDecoder().decode(await globalThis.t.client.execute("lc.slow", "fast", { timeout: 10_000 })));
  expect(again).toBe("fast");
  await page.evaluate(() => globalThis.t.client.close());
  await until(async () => (await h.bridge.stats()).connections === 0, 5000, "no connection left");
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
});

test("gearmand restart behind the bridge: the browser worker serves again, client tasks in flight get ConnectionError", async () => {
  const page = await h.open();
  await browserWorker(page, "g", 0);
  const pending = page.evaluate(async (url) => {
    const c = new globalThis.Gearman.Client({ servers: [url], token: "tok-client", reconnectDelay: 50, maxReconnectDelay: 500 });
    globalThis.t.client = c;
    // No worker for lc.none: the task waits on gearmand until it goes away.
    const p = c.execute("lc.none", "q").then(() => "ok", (e: Error) => e.name);
    globalThis.t.submitted = true;
    return await p;
  }, h.wsUrl);
  await until(() => page.evaluate(() => globalThis.t.submitted === true), 5000, "submit");
  await new Promise((r) => setTimeout(r, 300));
  await h.restartGearmand();
  expect(await pending).toBe("ConnectionError");
  const client = new Client({ servers: [h.gearmand.address] });
  peers.push(client);
  expect(dec.decode(await client.execute("lc.g", "after", { timeout: 15_000 }))).toBe("AFTER");
  const fromPage = await page.evaluate(async () => new TextDecoder().decode(await globalThis.t.client.execute("lc.g", "page", { timeout: 10_000 })));
  expect(fromPage).toBe("PAGE");
  await page.evaluate(async () => {
    await globalThis.t.client.close();
    await globalThis.t.worker.stop();
  });
  await until(async () => (await h.bridge.stats()).connections === 0, 5000, "no connection left");
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
});

test("bridge restart: a browser task with a unique and resubmitOnReconnect completes once; 200 others reject typed", async () => {
  const w = new Worker({ servers: [h.gearmand.address], concurrency: 50 });
  peers.push({ close: () => w.stop({ graceful: false }) });
  let runs = 0;
  w.defineFunction("lc.re", async (job) => {
    runs++;
    await new Promise((r) => setTimeout(r, job.text() === "keyed" ? 1500 : 3000));
    return `done ${job.text()}`;
  });
  await w.start();
  const page = await h.open();
  const pending = page.evaluate(async (url) => {
    const c = new globalThis.Gearman.Client({ servers: [url], token: "tok-client", resubmitOnReconnect: true, reconnectDelay: 50, maxReconnectDelay: 500 });
    globalThis.t.client = c;
    const dec = new TextDecoder();
    const keyed = c.execute("lc.re", "keyed", { unique: "k1", timeout: 20_000 }).then((r) => dec.decode(r), (e: Error) => `${e.name} ${e.message}`);
    const others = Array.from({ length: 200 }, (_, i) => c.execute("lc.re", `o${i}`).then(() => "ok", (e: Error) => e.name));
    globalThis.t.submitted = true;
    const names = await Promise.all(others);
    return { keyed: await keyed, others: [...new Set(names)] };
  }, h.wsUrl);
  await until(() => page.evaluate(() => globalThis.t.submitted === true), 5000, "submits");
  await new Promise((r) => setTimeout(r, 500));
  await h.bridge.restart();
  const out = await pending;
  expect(out).toEqual({ keyed: "done keyed", others: ["ConnectionError"] });
  await page.evaluate(() => globalThis.t.client.close());
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
}, 40_000);
