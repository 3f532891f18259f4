// `npm run bench`: every case side by side in one run, each side in its own process, every case
// bounded in count and time. Prints one table and writes test/results/bench.md and bench.json.
// Env: BENCH_REPS (default 3) repetitions of the throughput cases (median reported);
//      BENCH_ONLY=echo,latency,... to run a subset; BENCH_NO_BUNDLE=1 to skip parts without a dist entry;
//      GEARMAN_SDK_DIST=file:///.../node.js, BENCH_SERVER_URL, BENCH_BRIDGE_URL to measure other builds;
//      BENCH_OUT=name writes test/results/<name>.md/.json instead of bench.md/.json.
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import {
  BENCH_DIR, ROOT, GEARMAND, adminStatus, buildCPair, locateOptional, median, rss, runJson, sleep, startDaemon,
  startGearmand, waitForWorkers,
} from "./lib.mjs";

const REPS = Number(process.env.BENCH_REPS ?? 3);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : undefined;
const want = (k) => !ONLY || ONLY.has(k);
const CASE = join(BENCH_DIR, "gearman-case.mjs");
const FN = "echo";
const T0 = Date.now();

const JS_PEERS = ["abraxas", "gearman", "gearmanode"];
// Peers without TCP_NODELAY (checked in their sources: only abraxas calls setNoDelay): 2 small
// writes per job meet Nagle + delayed ACK, ~40 ms per job per connection. Bounded, and marked.
const NAGLE = new Set(["gearman", "gearmanode"]);
const LABEL = { "sdk+c": "gearman-sdk worker + C client", "c+sdk": "C worker + gearman-sdk client", sdk: "gearman-sdk", abraxas: "abraxas 2.1.10", gearman: "gearman 2.1.0", gearmanode: "gearmanode 0.9.2", c: "C libgearman 1.1.20", floor: "node:net floor (test/bench/node-floor.mjs: no SDK, the least Node can do)" };

const log = (m) => process.stderr.write(`[bench ${((Date.now() - T0) / 1000).toFixed(0).padStart(3)} s] ${m}\n`);
const rows = [];
const raw = {};
const notes = [];
const row = (r) => rows.push(r);

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }) : "–");
const x = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : "–");
const kb = (b) => (Number.isFinite(b) ? (Math.abs(b) >= 10_240 ? `${fmt(b / 1024, 1)} KiB` : `${fmt(b)} B`) : "–");
const met = (ok) => (ok === undefined ? "" : ok ? "yes" : "**no**");

// ---------------------------------------------------------------------------------------------
// Setup

const cpair = buildCPair();
if (cpair.error) notes.push(`C pair not built: ${cpair.error}`);
const serverMod = process.env.BENCH_SERVER_URL ? { url: process.env.BENCH_SERVER_URL, origin: process.env.BENCH_SERVER_URL }
  : await locateOptional(["server.js", "server/node.js"], "src/server/node.ts", "server");
const bridgeMod = process.env.BENCH_BRIDGE_URL ? { url: process.env.BENCH_BRIDGE_URL, origin: process.env.BENCH_BRIDGE_URL }
  : await locateOptional(["bridge.js", "bridge/bridge.js"], "bridge/bridge.ts", "bridge");

const GEARMAND_DEFAULT = [];
const GEARMAND_T0 = ["--threads=0"];

/** A job server for one run: gearmand with options, or the embedded server in its own process. */
async function startJobServer(kind, gargs) {
  if (kind === "embedded") {
    const d = await startDaemon(join(BENCH_DIR, "server.mjs"), [`--url=${serverMod.url}`], { nodeArgs: ["--expose-gc"] });
    const port = Number(d.readyInfo);
    return { port, pid: d.pid, address: `127.0.0.1:${port}`, cpu: d.cpu, mem: () => d.request("mem"), stop: d.stop };
  }
  return await startGearmand(gargs);
}

async function startWorker(peer, port) {
  if (peer === "c") return await startDaemon(cpair.bench_worker, ["-p", String(port), "-t", "4", "-f", FN]);
  return await startDaemon(CASE, ["--role=worker", `--peer=${peer}`, `--port=${port}`, `--fn=${FN}`, "--slots=4"]);
}

function clientCmd(peer, port, mode, o) {
  if (peer === "c") {
    const m = { throughput: "throughput", latency: "latency", background: "bg", big: "big" }[mode];
    return [cpair.bench_client, ["-p", String(port), "-m", m, "-n", String(o.jobs ?? 1), "-i", String(o.inflight ?? 100),
      "-s", String(o.size ?? 100), "-T", String(o.seconds), "-f", FN, "-w", String(o.warmup ?? 0)]];
  }
  return [CASE, ["--role=client", `--peer=${peer}`, `--port=${port}`, `--fn=${FN}`, `--mode=${mode}`,
    ...Object.entries(o).map(([k, v]) => `--${k}=${v}`)]];
}

/** One measured run: fresh server, the peer's worker (unless background), the peer's client. */
async function gearmanRun(peer, mode, o, { server = "gearmand", gargs = GEARMAND_DEFAULT, workerPeer = peer } = {}) {
  if ((peer === "c" || workerPeer === "c") && cpair.error) return { error: cpair.error };
  const srv = await startJobServer(server, gargs);
  let worker;
  try {
    if (mode !== "background") {
      worker = await startWorker(workerPeer, srv.port);
      const conns = workerPeer === "sdk" || workerPeer === "abraxas" || workerPeer === "floor" ? 1 : 4;
      await waitForWorkers(srv.port, FN, conns).catch(async () => sleep(500));
    }
    const mem0 = srv.mem ? await srv.mem() : { rss: rss(srv.pid).rss };
    const s0 = srv.cpu();
    const w0 = worker?.cpu() ?? 0;
    const [cmd, args] = clientCmd(peer, srv.port, mode, o);
    // The client bounds itself; a peer whose event loop is saturated cannot, so the harness kills it.
    const r = await runJson(cmd, args, { timeoutMs: (o.seconds + (mode === "background" ? 6 : 15)) * 1000 });
    if (r.timedOut) delete r.error;
    if (r.timedOut) Object.assign(r, { bounded: true, jobs: 0, rate: 0, why: `killed at the ${o.seconds + (mode === "background" ? 6 : 15)} s harness cap without a result (event loop saturated)` });
    r.serverCpu = srv.cpu() - s0;
    r.workerCpu = worker ? worker.cpu() - w0 : 0;
    if (mode === "background") {
      const mem1 = srv.mem ? await srv.mem() : { rss: rss(srv.pid).rss };
      r.serverHeapPerJob = mem1.heap !== undefined ? (mem1.heap - mem0.heap) / r.jobs : undefined;
      r.serverRssPerJob = (mem1.rss - mem0.rss) / r.jobs;
      if (server === "gearmand") {
        const st = (await adminStatus(srv.port).catch(() => ({})))[FN];
        r.queued = st?.queued;
      }
    }
    return r;
  } catch (e) {
    return { error: String(e.message ?? e).slice(0, 300) };
  } finally {
    await worker?.stop();
    await srv.stop();
  }
}

const okRun = (r) => r && !r.error && (r.timedOut ? r.bounded : true) && (r.rate >= 0 || r.p50 > 0 || r.seconds > 0);
const why = (r) => r?.error ? `error: ${String(r.error).split("\n").slice(-3).join(" ").slice(0, 160)}` : r?.timedOut ? "killed at the time bound" : r?.why ?? "";

// ---------------------------------------------------------------------------------------------
// (e) Codec in memory — first, while the machine is quiet.

if (want("codec")) {
  log("codec");
  const r = await runJson(join(BENCH_DIR, "codec.mjs"), ["--ms=400"], { timeoutMs: 60_000 });
  raw.codec = r;
  if (r.small) {
    row({ c: "e. codec (in memory)", s: "decode WORK_COMPLETE, 100 B payload, 64 KiB chunks", v: `${fmt(r.small.packetsPerSec / 1e6, 2)} M packets/s (${fmt(r.small.mbPerSec)} MB/s)`, ratio: "", t: "", m: "" });
    row({ c: "", s: "decode 64 KiB payloads, 64 KiB socket chunks (bodies assembled)", v: `${fmt(r.straddling.mbPerSec)} MB/s; copy ${fmt(r.straddling.copyMbPerSec)} MB/s; alloc+copy ${fmt(r.straddling.allocCopyMbPerSec)} MB/s`, ratio: `${x(r.straddling.ratio)} of copy (${x(r.straddling.ratioAllocCopy)} of alloc+copy)`, t: "≥ 0.5x copy", m: met(r.straddling.ratio >= 0.5) });
    row({ c: "", s: "decode 64 KiB payloads, one packet per chunk (zero-copy path)", v: `${fmt(r.aligned.mbPerSec)} MB/s; copy ${fmt(r.aligned.copyMbPerSec)} MB/s`, ratio: `${x(r.aligned.ratio)} of copy`, t: "≥ 0.5x copy", m: met(r.aligned.ratio >= 0.5) });
    row({ c: "", s: "encode SUBMIT_JOB, 100 B payload (PacketWriter)", v: `${fmt(r.encode.packetsPerSec / 1e6, 2)} M packets/s`, ratio: "", t: "", m: "" });
  } else row({ c: "e. codec (in memory)", s: "gearman-sdk", v: why(r), ratio: "", t: "", m: "" });
}

// The SDK's own CPU per job, without sockets (fake gearmand in memory): no peer to compare, but
// stable on a noisy machine, and what profiling starts from.
if (want("overhead")) {
  log("overhead (in memory)");
  const r = await runJson(join(BENCH_DIR, "overhead.mjs"), ["--jobs=50000"], { timeoutMs: 90_000 });
  raw.overhead = r;
  row({ c: "e'. SDK CPU per job, fake gearmand in memory (no sockets; the fake's own work included)", s: "Client: submit + result, 100 in flight", v: r.client ? `${fmt(r.client.usPerJob, 1)} µs CPU/job (${fmt(r.client.rate)} jobs/s)` : why(r), ratio: "", t: "", m: "" });
  row({ c: "", s: "Worker: concurrency 4, echo handler", v: r.worker ? `${fmt(r.worker.usPerJob, 1)} µs CPU/job (${fmt(r.worker.rate)} jobs/s)` : why(r), ratio: "", t: "", m: "" });
}

// ---------------------------------------------------------------------------------------------
// (a) Foreground echo throughput (+ embedded server), interleaved repetitions, medians.

// Every peer first runs WARMUP jobs the same way (JIT compilation, connection set-up), measured apart
// as the cold rate; the table's rate is the steady state after it.
const WARMUP = 10_000;
const ECHO = { jobs: 20000, inflight: 100, size: 100, seconds: 20, warmup: WARMUP };
const ECHO_NAGLE = { jobs: 2000, inflight: 100, size: 100, seconds: 6 };
if (want("echo")) {
  const plan = [
    ["sdk", "gearmand", GEARMAND_DEFAULT], ["abraxas", "gearmand", GEARMAND_DEFAULT], ["c", "gearmand", GEARMAND_DEFAULT], ["floor", "gearmand", GEARMAND_DEFAULT],
    ["sdk", "gearmand", GEARMAND_T0], ["c", "gearmand", GEARMAND_T0],
    ...(serverMod.error ? [] : [["sdk", "embedded", []]]),
  ];
  const runs = new Map(plan.map(([p, s, g]) => [`${p}|${s}|${g.join(" ")}`, []]));
  for (let rep = 0; rep < REPS; rep++) {
    for (const [peer, server, gargs] of plan) {
      log(`echo ${peer} on ${server} ${gargs.join(" ")} (rep ${rep + 1}/${REPS})`);
      runs.get(`${peer}|${server}|${gargs.join(" ")}`).push(await gearmanRun(peer, "throughput", ECHO, { server, gargs }));
    }
  }
  for (const peer of ["gearman", "gearmanode"]) {
    log(`echo ${peer} (bounded)`);
    runs.set(`${peer}|gearmand|`, [await gearmanRun(peer, "throughput", ECHO_NAGLE)]);
  }
  raw.echo = Object.fromEntries(runs);
  const agg = (key) => {
    const rs = runs.get(key) ?? [];
    const good = rs.filter(okRun);
    return {
      rate: median(good.map((r) => r.rate)), n: good.length, all: rs, bounded: rs.some((r) => r.bounded), bad: rs.reduce((s, r) => s + (r.bad ?? 0), 0),
      gdCpu10k: median(good.map((r) => (r.serverCpu / r.jobs) * 10_000)), wCpu10k: median(good.map((r) => (r.workerCpu / r.jobs) * 10_000)),
      cCpu10k: median(good.map((r) => (r.clientCpu / r.jobs) * 10_000)), jobs: good[0]?.jobs, requested: good[0]?.requested, why: why(rs.find((r) => !okRun(r) || r.bounded)),
      cold: median(good.map((r) => r.warmup?.rate).filter(Number.isFinite)),
    };
  };
  const A = {};
  for (const k of runs.keys()) A[k] = agg(k);
  const sdk = A["sdk|gearmand|"];
  const c = A["c|gearmand|"];
  const jsBest = JS_PEERS.map((p) => [p, A[`${p}|gearmand|`]]).filter(([, a]) => Number.isFinite(a.rate)).sort((p, q) => q[1].rate - p[1].rate)[0];
  const cpuNote = (a) => Number.isFinite(a.gdCpu10k) ? `; CPU-s per 10k jobs: gearmand ${fmt(a.gdCpu10k, 2)}, worker ${fmt(a.wCpu10k, 2)}, client ${fmt(a.cCpu10k, 2)}` : "";
  const head = `a. foreground echo: ${fmt(ECHO.jobs)} jobs × 100 B after ${fmt(WARMUP)} warm-up jobs (cold: the warm-up's own rate), 100 in flight on 1 client connection, 4 worker slots; gearmand default options; median of ${REPS}`;
  const coldNote = (a) => (Number.isFinite(a.cold) ? `; cold ${fmt(a.cold)} jobs/s` : "");
  for (const peer of ["sdk", ...JS_PEERS, "c", "floor"]) {
    const a = A[`${peer}|gearmand|`];
    const bounded = a.bounded ? ` — **bounded** (${fmt(a.jobs)} of ${fmt(a.requested)} jobs in the ${NAGLE.has(peer) ? ECHO_NAGLE.seconds : ECHO.seconds} s cap${NAGLE.has(peer) ? "; no TCP_NODELAY: Nagle" : ""})` : "";
    const bad = a.bad ? `, ${a.bad} results corrupted` : "";
    const v = Number.isFinite(a.rate) ? `${fmt(a.rate)} jobs/s${bounded}${bad}${coldNote(a)}${cpuNote(a)}` : why(a.all[0]) || "no result";
    if (peer === "sdk") {
      const rJs = sdk.rate / jsBest?.[1].rate;
      const rC = sdk.rate / c.rate;
      const coldC = Number.isFinite(sdk.cold / c.cold) ? ` (cold ${x(sdk.cold / c.cold)})` : "";
      row({ c: head, s: LABEL.sdk + " (Worker concurrency 4, one connection)", v, ratio: `${x(rJs)} vs ${LABEL[jsBest?.[0]] ?? "?"}; ${x(rC)} vs C${coldC}`, t: "≥ 1.5x fastest JS; ≥ 0.8x C", m: met(rJs >= 1.5 && rC >= 0.8) });
    } else {
      const how = { abraxas: " (maxJobs 4, one connection)", gearman: " (4 worker connections)", gearmanode: " (4 worker objects/connections)", c: " (4 worker threads, one connection each)", floor: "" }[peer];
      row({ c: "", s: LABEL[peer] + how, v, ratio: peer === "c" ? "" : `${x(a.rate / c.rate)} vs C`, t: "", m: "" });
    }
  }
  const s0 = A["sdk|gearmand|--threads=0"];
  const c0 = A["c|gearmand|--threads=0"];
  row({ c: "a'. same, gearmand --threads=0", s: LABEL.sdk, v: `${fmt(s0.rate)} jobs/s${coldNote(s0)}${cpuNote(s0)}`, ratio: `${x(s0.rate / c0.rate)} vs C`, t: "(≥ 0.8x C)", m: met(s0.rate / c0.rate >= 0.8) });
  row({ c: "", s: LABEL.c, v: `${fmt(c0.rate)} jobs/s${coldNote(c0)}${cpuNote(c0)}`, ratio: "", t: "", m: "" });
  const emb = A["sdk|embedded|"];
  if (emb) {
    row({ c: `g. embedded server (${serverMod.origin}): foreground echo as in a., gearman-sdk client + worker`, s: "embedded server vs gearmand (default)", v: `${fmt(emb.rate)} jobs/s vs ${fmt(sdk.rate)} jobs/s; server ${fmt(emb.gdCpu10k, 2)} CPU-s/10k jobs`, ratio: `${x(emb.rate / sdk.rate)} of gearmand`, t: "≥ 0.5x gearmand", m: met(emb.rate / sdk.rate >= 0.5) });
  }
}
if (serverMod.error) row({ c: "g. embedded server", s: "TODO", v: `not measured: ${serverMod.error}`, ratio: "", t: "≥ 0.5x gearmand", m: "TODO" });

// ---------------------------------------------------------------------------------------------
// (b) Latency, one job in flight.

// Untimed jobs first, the same for every peer: the percentiles are of the steady state.
const LAT_WARMUP = 3000;
if (want("latency")) {
  const lat = {};
  // "worker+client": one side of the SDK with the other side of the C pair, to show which side costs what.
  const runs = { sdk: [], c: [], floor: [], "sdk+c": [], "c+sdk": [] };
  // The machine is noisy: SDK, C, the Node floor and the mixed pairs take turns, REPS times; medians are reported.
  for (let rep = 0; rep < REPS; rep++) {
    for (const peer of Object.keys(runs)) {
      log(`latency ${peer} (rep ${rep + 1}/${REPS})`);
      const [workerPeer, clientPeer] = peer.includes("+") ? peer.split("+") : [peer, peer];
      runs[peer].push(await gearmanRun(clientPeer, "latency", { jobs: 2000, size: 100, seconds: 10, warmup: LAT_WARMUP }, { workerPeer }));
    }
  }
  for (const [peer, rs] of Object.entries(runs)) {
    const good = rs.filter(okRun);
    lat[peer] = good.length ? { ...good[0], p50: median(good.map((r) => r.p50)), p99: median(good.map((r) => r.p99)) } : rs[0];
  }
  for (const peer of JS_PEERS) {
    log(`latency ${peer}`);
    const o = NAGLE.has(peer) ? { jobs: 100, size: 100, seconds: 4 } : { jobs: 2000, size: 100, seconds: 10, warmup: LAT_WARMUP };
    lat[peer] = await gearmanRun(peer, "latency", o);
  }
  raw.latency = { ...lat, runs };
  const c = lat.c;
  let first = true;
  for (const peer of ["sdk", "c", "floor", "sdk+c", "c+sdk", ...JS_PEERS]) {
    const r = lat[peer];
    const v = okRun(r) ? `p50 ${fmt(r.p50)} µs / p99 ${fmt(r.p99)} µs (${fmt(r.jobs)} jobs${NAGLE.has(peer) ? "; **bounded** to 100 jobs / 4 s: Nagle" : r.bounded ? "; **bounded** by the 10 s cap" : ""})` : why(r);
    const isSdk = peer === "sdk";
    const reps = runs[peer] ? `; median of ${runs[peer].filter(okRun).length}` : "";
    row({
      c: first ? `b. latency, 1 job in flight, 100 B echo, gearmand default, after ${fmt(LAT_WARMUP)} untimed jobs` : "", s: LABEL[peer], v: v + reps,
      ratio: isSdk || runs[peer] && peer !== "c" ? `p50 ${x(r.p50 / c.p50)} of C; p99 ${x(r.p99 / c.p99)}` : "", t: isSdk ? "p50 ≤ 1.3x C" : "", m: isSdk ? met(r.p50 / c.p50 <= 1.3) : "",
    });
    first = false;
  }
}

// ---------------------------------------------------------------------------------------------
// (c) 50,000 background submits at once, no worker: jobs/s until every JOB_CREATED.

const BG_SECONDS = 8;
if (want("background")) {
  const bg = {};
  const subjects = [["sdk", "gearmand"], ["c", "gearmand"], ...JS_PEERS.map((p) => [p, "gearmand"]), ...(serverMod.error ? [] : [["sdk", "embedded"]])];
  for (const [peer, server] of subjects) {
    log(`background ${peer} on ${server}`);
    bg[`${peer}|${server}`] = await gearmanRun(peer, "background", { jobs: 50000, size: 100, seconds: BG_SECONDS }, { server });
  }
  raw.background = bg;
  const c = bg["c|gearmand"];
  let first = true;
  for (const [peer, server] of subjects) {
    const r = bg[`${peer}|${server}`];
    const mem = server === "embedded"
      ? `; server heap ${kb(r.serverHeapPerJob)}/queued job (RSS ${kb(r.serverRssPerJob)})`
      : peer === "sdk" ? `; gearmand RSS ${kb(r.serverRssPerJob)}/queued job` : "";
    const v = !okRun(r) ? why(r)
      : r.timedOut ? `**bounded**: no answer from the client within ${BG_SECONDS + 6} s (killed; event loop saturated); gearmand had queued ${fmt(r.queued)} of 50,000 by then`
      : `${fmt(r.rate)} jobs/s${r.bounded ? ` — **bounded**: ${fmt(r.jobs)} of 50,000 created in the ${BG_SECONDS} s cap` : ""}${mem}`;
    const label = server === "embedded" ? `${LABEL.sdk} → embedded server` : LABEL[peer];
    row({ c: first ? "c. 50,000 SUBMIT_JOB_BG issued at once (no worker), until all JOB_CREATED" : "", s: label, v, ratio: peer !== "c" && server === "gearmand" && !r.timedOut ? `${x(r.rate / c.rate)} vs C` : "", t: "", m: "" });
    first = false;
  }
  if (bg["sdk|embedded"]) {
    const e = bg["sdk|embedded"];
    row({ c: "g. embedded server: memory per queued background job", s: `${LABEL.sdk} → embedded server (50,000 queued)`, v: `${kb(e.serverHeapPerJob)} heap / ${kb(e.serverRssPerJob)} RSS per job (gearmand: ${kb(bg["sdk|gearmand"]?.serverRssPerJob)} RSS)`, ratio: "", t: "", m: "" });
  }
}

// ---------------------------------------------------------------------------------------------
// (d) One 16 MiB binary echo.

const BIG_SECONDS = 12;
if (want("big")) {
  const big = {};
  for (const peer of ["sdk", ...JS_PEERS, "c"]) {
    log(`16 MiB echo ${peer}`);
    big[peer] = await gearmanRun(peer, "big", { size: 16 << 20, seconds: BIG_SECONDS });
  }
  raw.big = big;
  let first = true;
  for (const peer of ["sdk", ...JS_PEERS, "c"]) {
    const r = big[peer];
    const v = r.error && !r.seconds ? why(r)
      : r.bounded && !r.intact ? `**bounded**: no result within the ${BIG_SECONDS} s cap`
      : `${fmt(r.seconds, 2)} s, ${r.intact ? "intact" : `**corrupted**${r.error ? ` (${r.error})` : ""}`}`;
    row({ c: first ? "d. one 16 MiB binary echo (every byte value), gearmand default" : "", s: LABEL[peer], v, ratio: "", t: peer === "sdk" ? "intact" : "", m: peer === "sdk" ? met(!!r.intact) : "" });
    first = false;
  }
}

// ---------------------------------------------------------------------------------------------
// (f) Memory of this SDK.

if (want("memory")) {
  log("memory");
  const g = await startGearmand(GEARMAND_DEFAULT);
  const r = await runJson(join(BENCH_DIR, "memory.mjs"), [`--port=${g.port}`], { nodeArgs: ["--expose-gc"], timeoutMs: 60_000 });
  await g.stop();
  raw.memory = r;
  if (r.pending) {
    row({ c: "f. memory (gearman-sdk, heap + external after GC)", s: `pending foreground task (${fmt(r.pending.tasks)} submitted, no worker, after JOB_CREATED)`, v: `${kb(r.pending.bytesPerTask)} per task (RSS ${kb(r.pending.rssPerTask)})`, ratio: "", t: "", m: "" });
    row({ c: "", s: `idle worker connection (${r.worker.connections} Workers, one function, asleep)`, v: `${kb(r.worker.bytesPerConnection)} per connection`, ratio: "", t: "", m: "" });
    row({ c: "", s: `idle client connection (${r.client.connections} Clients after one ECHO)`, v: `${kb(r.client.bytesPerConnection)} per connection`, ratio: "", t: "", m: "" });
  } else row({ c: "f. memory", s: "gearman-sdk", v: why(r), ratio: "", t: "", m: "" });
}

// ---------------------------------------------------------------------------------------------
// (h) Bridge: direct TCP vs blind relay vs policy bridge, ECHO round trips of 1 KiB.

if (want("bridge") && !bridgeMod.error) {
  const B = join(BENCH_DIR, "bridge.mjs");
  const g = await startGearmand(GEARMAND_DEFAULT);
  let bridge, blind;
  try {
    bridge = await startDaemon(B, ["--role=bridge", `--url=${bridgeMod.url}`, `--upstream=${g.address}`], { nodeArgs: ["--expose-gc"] });
    blind = await startDaemon(B, ["--role=blind", `--upstream=${g.address}`], { nodeArgs: ["--expose-gc"] });
    const targets = {
      direct: `tcp://${g.address}`,
      blind: `ws://127.0.0.1:${blind.readyInfo}/`,
      policy: `ws://127.0.0.1:${bridge.readyInfo.split(" ")[0]}/gearman`,
    };
    const runs = { direct: [], blind: [], policy: [] };
    for (let rep = 0; rep < REPS; rep++) {
      for (const k of Object.keys(targets)) {
        log(`bridge echo ${k} (rep ${rep + 1}/${REPS})`);
        const relay = k === "policy" ? bridge : k === "blind" ? blind : undefined;
        const c0 = relay ? relay.cpu() : g.cpu();
        const r = await runJson(B, ["--role=load", `--target=${targets[k]}`, "--conns=4", "--inflight=64", "--size=1024", "--count=100000", "--seconds=4"], { timeoutMs: 40_000 });
        // CPU of the relay process per echo (gearmand's for direct): steadier than the rate on a shared machine.
        r.relayUsPerEcho = (((relay ? relay.cpu() : g.cpu()) - c0) / r.echoes) * 1e6;
        runs[k].push(r);
      }
    }
    const mem = {};
    for (const [k, d] of [["policy", bridge], ["blind", blind]]) {
      log(`bridge memory ${k}`);
      const m0 = await d.request("mem");
      const g0 = rss(g.pid).rss;
      const idle = await startDaemon(B, ["--role=idle", `--target=${targets[k]}`, "--conns=200"]);
      await sleep(500);
      const m1 = await d.request("mem");
      // gearmand's side of the same 200 connections: its RSS keeps what it freed, so only the first set (policy) says it.
      const g1 = rss(g.pid).rss;
      await idle.stop();
      mem[k] = { heap: (m1.heap - m0.heap) / 200, rss: (m1.rss - m0.rss) / 200, gearmandRss: (g1 - g0) / 200 };
    }
    raw.bridge = { runs, mem, origin: bridgeMod.origin };
    const A = Object.fromEntries(Object.entries(runs).map(([k, rs]) => [k, {
      rate: median(rs.filter(okRun).map((r) => r.rate)), p50: median(rs.filter(okRun).map((r) => r.p50)),
      cpu: median(rs.filter(okRun).map((r) => r.relayUsPerEcho)), err: why(rs.find((r) => !okRun(r))),
    }]));
    const head = `h. bridge (${bridgeMod.origin}): ECHO_REQ 1 KiB, gearman-sdk Client, 4 connections × 64 in flight (≤ 100,000 / 4 s); p50 with 1 in flight; median of ${REPS}`;
    row({ c: head, s: "direct TCP to gearmand", v: `${fmt(A.direct.rate)} echoes/s, p50 ${fmt(A.direct.p50)} µs; gearmand ${fmt(A.direct.cpu, 1)} µs CPU/echo ${A.direct.err}`, ratio: "", t: "", m: "" });
    row({ c: "", s: "blind ws↔tcp relay (bridge.mjs, 20 lines)", v: `${fmt(A.blind.rate)} echoes/s, p50 ${fmt(A.blind.p50)} µs; relay ${fmt(A.blind.cpu, 1)} µs CPU/echo ${A.blind.err}`, ratio: `${x(A.blind.rate / A.direct.rate)} of direct`, t: "", m: "" });
    const rb = A.policy.rate / A.blind.rate;
    const rd = A.policy.rate / A.direct.rate;
    row({ c: "", s: "policy bridge (startBridge)", v: `${fmt(A.policy.rate)} echoes/s, p50 ${fmt(A.policy.p50)} µs; relay ${fmt(A.policy.cpu, 1)} µs CPU/echo ${A.policy.err}`, ratio: `${x(rb)} of blind; ${x(rd)} of direct`, t: "≥ 0.85x blind; ≥ 0.5x direct", m: met(rb >= 0.85 && rd >= 0.5) });
    row({ c: "", s: "memory per idle WebSocket connection (200 open, incl. its gearmand socket)", v: `policy bridge ${kb(mem.policy.heap)} heap (RSS ${kb(mem.policy.rss)}) + gearmand ${kb(mem.policy.gearmandRss)} RSS; blind relay ${kb(mem.blind.heap)} (RSS ${kb(mem.blind.rss)})`, ratio: "", t: "", m: "" });
    // Browser to browser (issue #7): two Chromium pages, worker and client, through the bridge (its own gearmand).
    log("bridge browser-to-browser (Chromium)");
    const bb = await runJson(join(BENCH_DIR, "browser-bridge.mjs"), [`--url=${bridgeMod.url}`, "--seconds=3.5", "--inflight=64", "--size=100", "--slots=4"], { timeoutMs: 60_000 });
    raw.bridge.browser = bb;
    row({
      c: "", s: "browser → bridge → browser: Chromium pages, Worker (concurrency 4) + Client, 100 B echo jobs, 64 in flight (≤ 5 s); p50 with 1 in flight",
      v: Number.isFinite(bb.jobsPerSec) && !bb.error ? `${fmt(bb.jobsPerSec)} jobs/s, p50 ${fmt(bb.p50us)} µs (at 64 in flight ${fmt(bb.p50usAtInflight)} µs)${bb.bad ? `; **${bb.bad} bad results**` : ""}` : why(bb),
      ratio: "", t: "", m: "",
    });
  } catch (e) {
    row({ c: "h. bridge", s: "policy bridge", v: `failed: ${String(e.message ?? e).slice(0, 200)}`, ratio: "", t: "", m: "**no**" });
  } finally {
    await bridge?.stop();
    await blind?.stop();
    await g.stop();
  }
}
if (bridgeMod.error) row({ c: "h. bridge", s: "TODO", v: `not measured: ${bridgeMod.error}`, ratio: "", t: "≥ 0.85x blind; ≥ 0.5x direct", m: "TODO" });

// ---------------------------------------------------------------------------------------------
// (i) Map/reduce fan-out.

if (want("mapreduce")) {
  log("map/reduce");
  const M = join(BENCH_DIR, "mapreduce.mjs");
  const g = await startGearmand(GEARMAND_DEFAULT);
  let mapper, reducers;
  try {
    mapper = await startDaemon(M, ["--role=mapper", `--port=${g.port}`, "--slots=1"]);
    reducers = await startDaemon(M, ["--role=reducers", `--port=${g.port}`, "--slots=4"]);
    await waitForWorkers(g.port, "bench_map", 1);
    await waitForWorkers(g.port, "bench_reduce", 1);
    const r = await runJson(M, ["--role=client", `--port=${g.port}`, "--chunks=10000", "--seconds=40"], { timeoutMs: 60_000 });
    r.mapperPeakRss = mapper.rss().peak;
    r.reducersPeakRss = reducers.rss().peak;
    r.gearmandPeakRss = rss(g.pid).peak;
    raw.mapreduce = r;
    row({
      c: "i. map/reduce fan-out: 10,000 chunks of 100 B → reducer pool (1 Worker, concurrency 4), maxInFlight 64",
      s: LABEL.sdk, v: r.ok ? `${fmt(r.rate)} reducer jobs/s (${fmt(r.seconds, 2)} s); peak RSS mapper ${fmt(r.mapperPeakRss / 2 ** 20, 1)} MiB, reducers ${fmt(r.reducersPeakRss / 2 ** 20, 1)} MiB, client ${fmt(r.clientPeakRss / 2 ** 20, 1)} MiB, gearmand ${fmt(r.gearmandPeakRss / 2 ** 20, 1)} MiB` : `failed: ${r.error ?? r.result ?? why(r)}`,
      ratio: "", t: "", m: "",
    });
  } finally {
    await mapper?.stop();
    await reducers?.stop();
    await g.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const esc = (s) => String(s ?? "").replace(/\|/g, "\\|");
const header = "| case | subject | result | ratio | target | met |\n|---|---|---|---|---|---|";
const table = `${header}\n${rows.map((r) => `| ${esc(r.c)} | ${esc(r.s)} | ${esc(r.v)} | ${esc(r.ratio)} | ${esc(r.t)} | ${esc(r.m)} |`).join("\n")}`;
let sdkVersion = "";
try { sdkVersion = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version; } catch { /* */ }
let gdVersion = "";
try { gdVersion = execFileSync(GEARMAND, ["--version"], { encoding: "utf8" }).trim(); } catch { /* */ }
const meta = {
  date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg(),
  gearmand: gdVersion, gearmandOptions: "--listen=127.0.0.1 --port=<free> --log-file=stderr --verbose=ERROR (default threads, i.e. 4 I/O threads) unless the row says --threads=0; a fresh gearmand for every run",
  sdk: `gearman-sdk ${sdkVersion} (${process.env.GEARMAN_SDK_DIST ?? "dist/node.js"})`,
  peers: "abraxas 2.1.10, gearman 2.1.0, gearmanode 0.9.2, C: test/bench/c/bench_{client,worker}.c on libgearman (gcc -O2)",
  embeddedServer: serverMod.origin ?? serverMod.error, bridge: bridgeMod.origin ?? bridgeMod.error,
  reps: REPS, seconds: (Date.now() - T0) / 1000,
};
const preamble = [
  `# gearman-sdk benchmarks — ${meta.date}`,
  "",
  `Node ${meta.node}, ${meta.cpus} × ${meta.cpuModel}, load average before the run ${meta.loadavg.map((l) => l.toFixed(2)).join(" ")}; ${meta.gearmand}.`,
  `gearmand options: ${meta.gearmandOptions}. Client, worker and server each run in their own process on the same ${meta.cpus} cores.`,
  `Peers: ${meta.peers}. Embedded server: ${meta.embeddedServer}. Bridge: ${meta.bridge}.`,
  "Absolute numbers drift by ~30 % on this shared machine: read the ratios, which are measured side by side in this run.",
  "",
].join("\n");
const md = `${preamble}${table}\n${notes.length ? `\n${notes.map((n) => `- ${n}`).join("\n")}\n` : ""}\nTotal bench time ${meta.seconds.toFixed(0)} s.\n`;
process.stdout.write(`\n${md}`);
const outDir = join(ROOT, "test", "results");
mkdirSync(outDir, { recursive: true });
const OUT = process.env.BENCH_OUT ?? "bench";
writeFileSync(join(outDir, `${OUT}.md`), md);
writeFileSync(join(outDir, `${OUT}.json`), `${JSON.stringify({ meta, rows, raw }, null, 2)}\n`);
log(`wrote test/results/${OUT}.md and ${OUT}.json in ${meta.seconds.toFixed(0)} s`);
