// One side of a gearmand case for one JavaScript peer, in its own process.
//   --role=worker --peer=P --port=N --fn=echo --slots=4        prints READY, serves until killed
//   --role=client --peer=P --port=N --mode=throughput|latency|background|big [--jobs --inflight --size --seconds --warmup]
//   --warmup=N: N jobs first (throughput: reported apart as `warmup`; latency: not timed)
// The client prints one JSON line: counts, elapsed time, rate or percentiles, intact or not, bounded or not.
import { PEERS } from "./peers.mjs";
import { makePayload, parseArgs, percentile } from "./lib.mjs";

const a = parseArgs();
const peer = PEERS[a.peer];
if (!peer) throw new Error(`unknown peer ${a.peer}`);
const port = Number(a.port);
const fn = a.fn ?? "echo";

// Peers that log to stdout (gearmanode's winston) must not mix with the JSON line: send console to stderr.
console.log = console.info = console.warn = (...x) => process.stderr.write(`${x.join(" ")}\n`);
const emit = (obj) => process.stdout.write(`${JSON.stringify({ peer: a.peer, ...obj })}\n`);

function same(x, y) {
  return x != null && x.length === y.length && Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.length), y) === 0;
}

if (a.role === "worker") {
  const w = await peer.worker({ port, fn, slots: Number(a.slots ?? 4) });
  process.stdout.write("READY\n");
  const stop = async () => {
    await Promise.race([w.close(), new Promise((r) => setTimeout(r, 500))]);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
} else {
  const mode = a.mode ?? "throughput";
  const seconds = Number(a.seconds ?? 20);
  const c = await peer.client({ port });
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let out;
  if (mode === "throughput") {
    const jobs = Number(a.jobs ?? 20000);
    const inflight = Number(a.inflight ?? 100);
    const warmup = Number(a.warmup ?? 0);
    const payload = makePayload(Number(a.size ?? 100));
    /** `count` jobs through a window of `inflight`, bounded by the deadline. */
    const run = (count) => {
      const started = performance.now();
      const cpu0 = process.cpuUsage();
      return new Promise((resolve) => {
        let issued = 0;
        let done = 0;
        let bad = 0;
        let finished = false;
        const finish = (why) => {
          if (finished) return;
          finished = true;
          const el = (performance.now() - started) / 1000;
          const cpu = process.cpuUsage(cpu0);
          resolve({ jobs: done, requested: count, bad, seconds: el, rate: done / el, bounded: done < count, why, clientCpu: (cpu.user + cpu.system) / 1e6 });
        };
        const one = () => {
          issued++;
          c.submit(fn, payload).then((r) => {
            if (!same(r, payload)) bad++;
          }, () => bad++).finally(() => {
            done++;
            if (issued < count && performance.now() < deadline) one();
            else if (done === issued) finish(done < count ? `time bound ${seconds} s` : undefined);
          });
        };
        for (let i = 0; i < Math.min(inflight, count); i++) one();
        // A peer whose last jobs never settle still ends: the harness bounds it.
        setTimeout(() => finish(`time bound ${seconds} s (jobs still in flight)`), Math.max(0, deadline - performance.now()) + 2000).unref();
      });
    };
    // The warm-up (JIT compilation, connection set-up) is measured apart: the steady state follows it.
    const cold = warmup > 0 ? await run(warmup) : undefined;
    out = cold && cold.bounded ? { ...cold, requested: jobs, warmup: cold } : { ...(await run(jobs)), warmup: cold };
  } else if (mode === "latency") {
    const jobs = Number(a.jobs ?? 2000);
    const payload = makePayload(Number(a.size ?? 100));
    const warmup = Number(a.warmup ?? 50);
    const start = performance.now();
    const end = start + seconds * 1000;
    for (let i = 0; i < warmup && performance.now() < end; i++) await c.submit(fn, payload);
    const lat = [];
    let bad = 0;
    while (lat.length < jobs && performance.now() < end) {
      const s = performance.now();
      const r = await c.submit(fn, payload);
      lat.push((performance.now() - s) * 1000);
      if (!same(r, payload)) bad++;
    }
    lat.sort((x, y) => x - y);
    out = { jobs: lat.length, requested: jobs, bad, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), bounded: lat.length < jobs };
  } else if (mode === "background") {
    const jobs = Number(a.jobs ?? 50000);
    const payload = makePayload(Number(a.size ?? 100));
    let created = 0;
    let failed = 0;
    out = await new Promise((resolve) => {
      let finished = false;
      const finish = (why) => {
        if (finished) return;
        finished = true;
        const el = (performance.now() - t0) / 1000;
        resolve({ jobs: created, requested: jobs, failed, seconds: el, rate: created / el, bounded: created < jobs, why });
      };
      // All submits issued at once, as an application would with Promise.all.
      for (let i = 0; i < jobs; i++) {
        c.background(fn, payload).then(() => created++, () => failed++).finally(() => {
          if (created + failed === jobs) finish();
        });
      }
      setTimeout(() => finish(`time bound ${seconds} s`), seconds * 1000).unref();
    });
  } else if (mode === "big") {
    const payload = makePayload(Number(a.size ?? 16 << 20), true);
    out = await Promise.race([
      c.submit(fn, payload).then(
        (r) => ({ seconds: (performance.now() - t0) / 1000, intact: same(r, payload), bytes: r?.length ?? 0 }),
        (e) => ({ seconds: (performance.now() - t0) / 1000, intact: false, error: String(e?.message ?? e) }),
      ),
      new Promise((r) => setTimeout(() => r({ seconds: seconds, intact: false, bounded: true, why: `no result within ${seconds} s` }), seconds * 1000).unref()),
    ]);
  }
  emit({ mode, ...out });
  await Promise.race([c.close(), new Promise((r) => setTimeout(r, 300))]);
  process.exit(0);
}
