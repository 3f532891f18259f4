// Memory of this SDK, measured in its own process with --expose-gc against a gearmand (--port=N):
//   pending: bytes of JS heap (+ external) per foreground task submitted with no worker (after JOB_CREATED)
//   worker:  bytes per idle worker connection (Worker with one function, started, asleep in PRE_SLEEP)
//   client:  bytes per idle client connection (Client after one ECHO)
// Prints one JSON line.
import { mustGc, parseArgs, rss, sleep } from "./lib.mjs";

const a = parseArgs();
const DIST = process.env.GEARMAN_SDK_DIST ?? new URL("../../dist/node.js", import.meta.url).href;
const { Client, Worker } = await import(DIST);
const server = `127.0.0.1:${a.port}`;
const TASKS = Number(a.tasks ?? 10_000);
const WORKERS = Number(a.workers ?? 200);

function heap() {
  mustGc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: rss().rss };
}

const out = {};
{
  const client = new Client({ servers: [server] });
  await client.echo("warm");
  // Warm the code paths so that compiled code and caches are not counted as per-task memory.
  const warm = [];
  for (let i = 0; i < 200; i++) warm.push(client.submit("bench_nobody_warm", "x".repeat(100)));
  await Promise.all(warm.map((t) => t.created()));
  const before = heap();
  const tasks = [];
  const payload = new Uint8Array(100).fill(97);
  for (let i = 0; i < TASKS; i++) tasks.push(client.submit("bench_nobody", payload));
  await Promise.all(tasks.map((t) => t.created()));
  const after = heap();
  out.pending = { tasks: TASKS, bytesPerTask: (after.heap - before.heap) / TASKS, rssPerTask: (after.rss - before.rss) / TASKS };
  await client.close();
  tasks.length = 0;
  warm.length = 0;
}
await sleep(100);
{
  const workers = [];
  const warm = new Worker({ servers: [server] });
  warm.defineFunction("bench_idle", () => "x");
  await warm.start();
  await sleep(50);
  const before = heap();
  for (let i = 0; i < WORKERS; i++) {
    const w = new Worker({ servers: [server] });
    w.defineFunction("bench_idle", () => "x");
    workers.push(w);
  }
  await Promise.all(workers.map((w) => w.start()));
  await sleep(300); // CAN_DO, GRAB, NO_JOB, PRE_SLEEP settle
  const after = heap();
  out.worker = { connections: WORKERS, bytesPerConnection: (after.heap - before.heap) / WORKERS, rssPerConnection: (after.rss - before.rss) / WORKERS };
  await Promise.all([warm, ...workers].map((w) => w.stop({ graceful: false })));
}
await sleep(100);
{
  const clients = [];
  const before = heap();
  for (let i = 0; i < WORKERS; i++) clients.push(new Client({ servers: [server] }));
  await Promise.all(clients.map((c) => c.echo("x")));
  const after = heap();
  out.client = { connections: WORKERS, bytesPerConnection: (after.heap - before.heap) / WORKERS, rssPerConnection: (after.rss - before.rss) / WORKERS };
  await Promise.all(clients.map((c) => c.close()));
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
