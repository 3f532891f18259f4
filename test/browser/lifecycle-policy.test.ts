// Node + Chromium: policy closes seen from a real page: a signed token expiring (4401) under a browser worker and a
// browser client, and payloads larger than the bridge's maxPacketSize (1009), next to 8-16 MiB payloads that fit.
import { beforeAll, expect, test } from "vitest";
import { signToken } from "../../bridge/bridge.ts";
import { Client, Worker } from "../../src/node.ts";
import { type Harness, HMAC_SECRET, pageErrors, type Peer, startHarness, teardown, until } from "./lifecycle-harness.ts";

let h: Harness;
const peers: Peer[] = [];
const MAX = 20 << 20;

beforeAll(async () => {
  h = await startHarness({ limits: { maxPacketSize: MAX } });
});

teardown(() => h, peers, "allow");

test("a signed token expiring under a browser worker: PolicyError 4401 logged, retries at maxReconnectDelay", async () => {
  const token = signToken({ sub: "exp-worker", roles: ["worker"], register: ["lc.*"], exp: Math.floor(Date.now() / 1000) + 3 }, HMAC_SECRET);
  const page = await h.open();
  await page.evaluate(async ([url, tok]) => {
    const log: string[] = [];
    globalThis.t.log = log;
    const stamp = (level: string) => (m: string) => log.push(`${Date.now()} ${level} ${m}`);
    const w = new globalThis.Gearman.Worker({ servers: [url], token: tok, maxReconnectDelay: 1000,
      logger: { debug: stamp("debug"), warn: stamp("warn"), error: stamp("error") } });
    w.defineFunction("lc.exp", (job) => job.text());
    globalThis.t.worker = w;
    await w.start();
  }, [h.wsUrl, token] as const);
  await until(async () => (await page.evaluate(() => globalThis.t.log.length)) >= 5, 15_000, "5 log lines");
  const log: string[] = await page.evaluate(() => globalThis.t.log);
  await page.evaluate(() => globalThis.t.worker.stop());
  // One error line for the policy close, then reconnects at maxReconnectDelay (½-1 × 1000 ms with jitter), each refused
  // at the upgrade (HTTP 401, which a page sees as 1006), logged at debug only.
  expect(log[0]).toMatch(/^\d+ error .*\(4401\): token expired$/);
  expect(log.filter((l) => / error /.test(l))).toHaveLength(1);
  const delays = log.slice(1).map((l) => Number(/in (\d+) ms/.exec(l)?.[1]));
  for (const d of delays) expect(d).toBeGreaterThanOrEqual(500);
  expect(log.slice(2).every((l) => /closed during the handshake \(1006\)/.test(l))).toBe(true);
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
}, 30_000);

test("a signed token expiring under a browser client: tasks in flight reject with PolicyError", async () => {
  const token = signToken({ sub: "exp-client", roles: ["client"], submit: ["lc.*"], exp: Math.floor(Date.now() / 1000) + 2 }, HMAC_SECRET);
  const page = await h.open();
  const out = await page.evaluate(async ([url, tok]) => {
    const c = new globalThis.Gearman.Client({ servers: [url], token: tok });
    const r = await c.execute("lc.nobody", "x").then(() => "ok", (e: { name: string; code: number; message: string }) => `${e.name} ${e.code} ${e.message}`);
    const next = await c.execute("lc.nobody", "y", { timeout: 5000 }).then(() => "ok", (e: Error) => `${e.name} ${e.message}`);
    await c.close();
    return [r, next];
  }, [h.wsUrl, token] as const);
  expect(out[0]).toBe("PolicyError GEARMAN_POLICY_DENIED the bridge closed the connection (4401): token expired");
  // The bridge refuses the expired token at the upgrade: the page sees 1006, a ConnectionError.
  expect(out[1]).toMatch(/^ConnectionError .*closed during the handshake \(1006\)/);
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
}, 30_000);

test("16 MiB browser → Node worker and Node client → browser worker through the bridge", async () => {
  const w = new Worker({ servers: [h.gearmand.address] });
  peers.push({ close: () => w.stop({ graceful: false }) });
  w.defineFunction("lc.len", (job) => `${job.workload.length}:${job.workload[job.workload.length - 1]}`);
  await w.start();
  const page = await h.open();
  const sent = await page.evaluate(async (url) => {
    const c = new globalThis.Gearman.Client({ servers: [url], token: "tok-both" });
    const big = new Uint8Array(16 << 20).fill(7);
    const r = new TextDecoder().decode(await c.execute("lc.len", big, { timeout: 30_000 }));
    await c.close();
    return r;
  }, h.wsUrl);
  expect(sent).toBe(`${16 << 20}:7`);
  await page.evaluate(async (url) => {
    const w = new globalThis.Gearman.Worker({ servers: [url], token: "tok-both" });
    w.defineFunction("lc.echo", (job) => job.workload);
    globalThis.t.worker = w;
    await w.start();
  }, h.wsUrl);
  const client = new Client({ servers: [h.gearmand.address] });
  peers.push(client);
  const big = new Uint8Array(16 << 20).fill(9);
  const back = await client.execute("lc.echo", big, { timeout: 30_000 });
  expect(back.length).toBe(big.length);
  expect(back[back.length - 1]).toBe(9);
  // Bridge heap + buffers after GC: no 16 MiB payload kept.
  expect((await h.bridge.stats()).retained).toBeLessThan(16 << 20);
  await page.evaluate(() => globalThis.t.worker.stop());
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
}, 60_000);

test("a payload over the bridge's maxPacketSize: PolicyError 1009 for it and for tasks on the same connection; later submits work", async () => {
  const w = new Worker({ servers: [h.gearmand.address], concurrency: 4 });
  peers.push({ close: () => w.stop({ graceful: false }) });
  w.defineFunction("lc.wait", async (job) => {
    await new Promise((r) => setTimeout(r, 2000));
    return String(job.workload.length);
  });
  await w.start();
  const page = await h.open();
  const out = await page.evaluate(async ([url, max]) => {
    const c = new globalThis.Gearman.Client({ servers: [url], token: "tok-both" });
    const name = (e: { name: string; closeCode?: number; message: string }) => `${e.name} ${e.closeCode ?? ""} ${e.message}`;
    const small = c.execute("lc.wait", "small").then((r) => new TextDecoder().decode(r), name);
    await new Promise((r) => setTimeout(r, 100));
    const huge = await c.execute("lc.wait", new Uint8Array(max + 1024)).then((r) => new TextDecoder().decode(r), name);
    // Within ws maxPayload (max + 12) but a body over max: the bridge's own check, with a reason.
    const edge = await c.execute("lc.wait", new Uint8Array(max)).then((r) => new TextDecoder().decode(r), name);
    const after = await c.execute("lc.wait", "after", { timeout: 10_000 }).then((r) => new TextDecoder().decode(r), name);
    await c.close();
    // README's advice: maxPacketSize below the bridge's by the name, unique and separators: refused before sending.
    const capped = new globalThis.Gearman.Client({ servers: [url], token: "tok-both", maxPacketSize: max - 600 });
    const refused = await capped.execute("lc.wait", new Uint8Array(max - 599)).then((r) => new TextDecoder().decode(r), name);
    await capped.close();
    return { huge, small: await small, edge, after, refused };
  }, [h.wsUrl, MAX] as const);
  expect(out.huge).toBe("PolicyError 1009 the bridge closed the connection (1009)");
  // The whole WebSocket closes: the task in flight beside it ends with the same PolicyError.
  expect(out.small).toBe("PolicyError 1009 the bridge closed the connection (1009)");
  expect(out.edge).toBe("PolicyError 1009 the bridge closed the connection (1009)");
  expect(out.after).toBe("5");
  expect(out.refused).toMatch(/^InvalidArgumentError .*over maxPacketSize/);
  expect(await pageErrors(page)).toEqual([]);
  await page.close();
}, 60_000);

// The bridge limits the packet body (function name, unique, NULs and payload), and so does the client's maxPacketSize:
// with the bridge's own limit, a payload of exactly that size is refused before sending instead of closing with 1009.
test("maxPacketSize equal to the bridge's refuses a payload whose packet would exceed it, before sending", async () => {
  const page = await h.open();
  const out = await page.evaluate(async ([url, max]) => {
    const c = new globalThis.Gearman.Client({ servers: [url], token: "tok-both", maxPacketSize: max });
    const r = await c.execute("lc.nobody", new Uint8Array(max), { timeout: 20_000 }).then(() => "ok", (e: Error) => e.name);
    await c.close();
    return r;
  }, [h.wsUrl, MAX] as const);
  await page.close();
  expect(out).toBe("InvalidArgumentError");
}, 60_000);
