// The SDK's own cost per job, without sockets or gearmand: Client and Worker against a minimal fake
// gearmand on an in-memory transport pair (setImmediate delivery), in one process. CPU µs per job (user +
// system of this process, which here is all JS). Prints one JSON line.
//   client: submit(...).result() with 100 in flight; the fake answers JOB_CREATED + WORK_COMPLETE
//   worker: concurrency 4; the fake answers each GRAB_JOB_ALL with JOB_ASSIGN_ALL (100 B) until N
import { parseArgs } from "./lib.mjs";

const a = parseArgs();
const DIST = process.env.GEARMAN_SDK_DIST ?? new URL("../../dist/node.js", import.meta.url).href;
const { Client, Worker, PacketDecoder, PacketWriter, PacketType: T } = await import(DIST);
const N = Number(a.jobs ?? 50_000);
const payload = new Uint8Array(100).fill(97);

/**
 * A transport pair that delivers each write on the next turn of the event loop (setImmediate), as a
 * socket would. (The SDK's createMemoryPair delivers with setTimeout(0): ≥ 1 ms per hop on Node.)
 */
function pipePair() {
  const make = (remote) => ({ remote, sink: undefined, peer: undefined, start(s) { this.sink = s; }, pause() {}, resume() {},
    write(b) { const p = this.peer; setImmediate(() => p.sink?.data(b)); return true; },
    close() { const p = this.peer; setImmediate(() => p.sink?.closed(undefined)); setImmediate(() => this.sink?.closed(undefined)); } });
  const x = make("pipe://a");
  const y = make("pipe://b");
  x.peer = y;
  y.peer = x;
  return [x, y];
}

/** A fake gearmand on one memory transport end; `on(packet, reply)` answers. */
function fake(end, on) {
  const dec = new PacketDecoder({ expect: "req" });
  const w = new PacketWriter();
  let scheduled = false;
  const reply = (type, args) => {
    w.write(type, args, "res");
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        end.write(w.take());
      });
    }
  };
  end.start({ data: (c) => { for (const p of dec.push(c)) on(p, reply); }, drain() {}, closed() {} });
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

async function clientCase(jobs) {
  const [mine, theirs] = pipePair();
  let n = 0;
  fake(theirs, (p, reply) => {
    if (p.type === T.OPTION_REQ) return reply(T.OPTION_RES, [p.args[0]]);
    if (p.type === T.ECHO_REQ) return reply(T.ECHO_RES, [p.args[0]]);
    if (p.type === T.SUBMIT_JOB) {
      const h = `H:fake:${++n}`;
      reply(T.JOB_CREATED, [h]);
      reply(T.WORK_COMPLETE, [h, p.args[2]]);
    }
  });
  const client = new Client({ servers: ["fake:4730"], connector: () => async () => mine });
  await client.echo("warm");
  const c0 = cpu();
  const t0 = performance.now();
  let issued = 0;
  await Promise.all(Array.from({ length: 100 }, async () => {
    while (issued < jobs) {
      issued++;
      await client.submit("echo", payload).result();
    }
  }));
  const out = { jobs, usPerJob: ((cpu() - c0) * 1000) / jobs, rate: jobs / ((performance.now() - t0) / 1000) };
  await client.close();
  return out;
}

async function workerCase(jobs) {
  const [mine, theirs] = pipePair();
  let assigned = 0;
  let completed = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  fake(theirs, (p, reply) => {
    if (p.type === T.GRAB_JOB_ALL) {
      if (assigned < jobs) {
        assigned++;
        reply(T.JOB_ASSIGN_ALL, [`H:fake:${assigned}`, "echo", "", "", payload]);
      } else reply(T.NO_JOB, []);
    } else if (p.type === T.WORK_COMPLETE) {
      if (++completed === jobs) done();
    } else if (p.type === T.PRE_SLEEP && assigned < jobs) reply(T.NOOP, []);
  });
  const worker = new Worker({ servers: ["fake:4730"], concurrency: 4, connector: () => async () => mine });
  worker.defineFunction("echo", (job) => job.workload);
  const c0 = cpu();
  const t0 = performance.now();
  await worker.start();
  await finished;
  const out = { jobs, usPerJob: ((cpu() - c0) * 1000) / jobs, rate: jobs / ((performance.now() - t0) / 1000) };
  await worker.stop({ graceful: false });
  return out;
}

await clientCase(5000);
await workerCase(5000);
const client = await clientCase(N);
const worker = await workerCase(N);
process.stdout.write(`${JSON.stringify({ client, worker })}\n`);
process.exit(0);
