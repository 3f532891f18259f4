// Browser to browser through the bridge, in Chromium (issue #7): one page runs a Worker, another a
// Client, both from the SDK's browser bundle (dist/gearman.global.js), through the policy bridge to
// a gearmand this script starts. Echo jobs of --size bytes, --inflight at once, bounded in time:
// warm-up, then --seconds of throughput, then up to 1 s with one job in flight for the latency.
// Prints one JSON line: { jobsPerSec, p50us, ... }.
//   node test/bench/browser-bridge.mjs [--url=file:///…/bridge.js] [--seconds=3.5] [--inflight=64] [--size=100] [--slots=4]
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { ROOT, parseArgs, startGearmand, waitForWorkers } from "./lib.mjs";

const a = parseArgs();
const SECONDS = Number(a.seconds ?? 3.5);
const INFLIGHT = Number(a.inflight ?? 64);
const SIZE = Number(a.size ?? 100);
const SLOTS = Number(a.slots ?? 4);
const BRIDGE = a.url ?? pathToFileURL(join(ROOT, "dist", "bridge.js")).href;
const BUNDLE = join(ROOT, "dist", "gearman.global.js");
const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];
const TOKEN = "bench-browser-token";
const FN = "bench.browser_echo";
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>bench</title><link rel="icon" href="data:,">
<script src="/gearman.global.js"></script></head><body></body></html>`;

for (const [path, hint] of [[CHROMIUM, "apt-get install chromium"], [BUNDLE, "npm run build"]]) {
  if (!existsSync(path)) {
    process.stdout.write(`${JSON.stringify({ error: `${path} is missing (${hint})` })}\n`);
    process.exit(1);
  }
}

const g = await startGearmand();
const http = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (path === "/") return void res.writeHead(200, { "Content-Type": "text/html" }).end(PAGE);
  if (path === "/gearman.global.js") return void res.writeHead(200, { "Content-Type": "text/javascript" }).end(readFileSync(BUNDLE));
  res.writeHead(404).end();
});
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${http.address().port}`;
const url = `ws://127.0.0.1:${http.address().port}/gearman`;
const { startBridge } = await import(BRIDGE);
const bridge = await startBridge({
  upstream: g.address, server: http, path: "/gearman",
  policy: { origins: [origin], tokens: { [TOKEN]: { id: "bench", roles: ["client", "worker"], submit: ["bench.*"], register: ["bench.*"] } } },
  limits: { submitsPerSecond: 1_000_000, packetsPerSecond: 100_000_000 },
  logger: () => {},
});
const profile = mkdtempSync(join(tmpdir(), "bench-chromium-"));
let context;
let result;
try {
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  const version = context.browser()?.version() ?? "";
  const errors = [];
  const open = async () => {
    const p = await context.newPage();
    p.on("pageerror", (e) => errors.push(e.message));
    await p.goto(`${origin}/`);
    return p;
  };
  const workerPage = await open();
  const clientPage = await open();
  for (const p of context.pages()) if (p !== workerPage && p !== clientPage) await p.close();

  await workerPage.evaluate(async ([url, token, fn, slots]) => {
    const w = new globalThis.Gearman.Worker({ servers: [url], token, concurrency: slots });
    w.defineFunction(fn, (job) => job.workload);
    await w.start();
    globalThis.benchWorker = w;
  }, [url, TOKEN, FN, SLOTS]);
  await waitForWorkers(g.port, FN, 1);

  result = await clientPage.evaluate(async ([url, token, fn, inflight, size, seconds]) => {
    const c = new globalThis.Gearman.Client({ servers: [url], token });
    const payload = new Uint8Array(size);
    for (let i = 0; i < size; i++) payload[i] = 97 + (i % 26);
    let bad = 0;
    const one = async () => {
      const t0 = performance.now();
      const out = await c.execute(fn, payload);
      if (out.length !== size) bad++;
      return performance.now() - t0;
    };
    // Phase: `n` loops keep one job each in flight until the deadline or the count cap.
    const phase = async (n, ms, cap) => {
      const lat = [];
      const deadline = performance.now() + ms;
      const loop = async () => {
        while (performance.now() < deadline && lat.length < cap) lat.push(await one());
      };
      const t0 = performance.now();
      await Promise.all(Array.from({ length: n }, loop));
      return { lat: lat.sort((x, y) => x - y), ms: performance.now() - t0 };
    };
    const p = (s, q) => s[Math.min(s.length - 1, Math.floor(s.length * q))];
    await phase(inflight, 500, 2000);
    const load = await phase(inflight, seconds * 1000, 1_000_000);
    const single = await phase(1, 1000, 1000);
    await c.close();
    return {
      jobs: load.lat.length, seconds: load.ms / 1000, jobsPerSec: load.lat.length / (load.ms / 1000),
      p50usAtInflight: p(load.lat, 0.5) * 1000, p99usAtInflight: p(load.lat, 0.99) * 1000,
      p50us: p(single.lat, 0.5) * 1000, p99us: p(single.lat, 0.99) * 1000, latencyJobs: single.lat.length, bad,
    };
  }, [url, TOKEN, FN, INFLIGHT, SIZE, SECONDS]);
  await workerPage.evaluate(() => globalThis.benchWorker.stop({ graceful: false })).catch(() => {});
  Object.assign(result, { inflight: INFLIGHT, size: SIZE, workerSlots: SLOTS, chromium: version, pageErrors: errors });
} catch (e) {
  result = { error: String(e?.message ?? e).slice(0, 500) };
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  await bridge.close();
  await new Promise((r) => http.close(r));
  await g.stop();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.error ? 1 : 0);
