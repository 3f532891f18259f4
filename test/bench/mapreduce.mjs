// Map/reduce fan-out through gearmand with this SDK, one role per process:
//   --role=mapper   Worker defining "bench_map": partitions its workload (a chunk count) into that
//                   many 100 B chunks with job.sendData (each one becomes a "bench_reduce" job,
//                   at most maxInFlight at once); aggregate counts the results
//   --role=reducers Worker pool (concurrency --slots) defining "bench_reduce": returns the chunk length
//   --role=client   executeReduce("bench_map", "bench_reduce", chunks); prints one JSON line
import { parseArgs, rss } from "./lib.mjs";

const a = parseArgs();
const DIST = process.env.GEARMAN_SDK_DIST ?? new URL("../../dist/node.js", import.meta.url).href;
const { Client, Worker, partitioned } = await import(DIST);
const server = `127.0.0.1:${a.port}`;

if (a.role === "mapper" || a.role === "reducers") {
  const w = new Worker({ servers: [server], concurrency: Number(a.slots ?? 4) });
  if (a.role === "mapper") {
    const chunk = new Uint8Array(100).fill(109);
    w.defineFunction("bench_map", partitioned({
      partition: async (job) => {
        const n = Number(job.text());
        for (let i = 0; i < n; i++) await job.sendData(chunk);
      },
      aggregate: (results) => {
        let sum = 0;
        for (const r of results) sum += Number(new TextDecoder().decode(r));
        return `${results.length}:${sum}`;
      },
    }), { maxInFlight: Number(a.maxInFlight ?? 64) });
  } else {
    w.defineFunction("bench_reduce", (job) => String(job.workload.length));
  }
  await w.start();
  process.stdout.write("READY\n");
  const stop = async () => {
    await Promise.race([w.stop({ graceful: false }), new Promise((r) => setTimeout(r, 500))]);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
} else {
  const chunks = Number(a.chunks ?? 10_000);
  const client = new Client({ servers: [server] });
  await client.echo("warm");
  const t0 = performance.now();
  let result;
  let error;
  try {
    result = new TextDecoder().decode(await client.executeReduce("bench_map", "bench_reduce", String(chunks), { timeout: Number(a.seconds ?? 30) * 1000 }));
  } catch (e) {
    error = String(e?.message ?? e);
  }
  const seconds = (performance.now() - t0) / 1000;
  const ok = result === `${chunks}:${chunks * 100}`;
  process.stdout.write(`${JSON.stringify({ chunks, seconds, rate: chunks / seconds, ok, result, error, clientPeakRss: rss().peak })}\n`);
  await client.close();
  process.exit(0);
}
