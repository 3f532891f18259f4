// Node: test-plan section F, the soak (issue #7). 50 WebSocket clients through the bridge (its own process), each
// keeping 10 foreground jobs in flight, and 4 WebSocket workers, one of which is terminated (no close frame) and
// replaced every 5 s. RSS and open files of the bridge and of this process are sampled every 5 s.
// Pass: no lost or duplicated results (at-least-once re-executions only for jobs a killed worker held, and
// counted), no RSS growth trend after warm-up (the last 10 samples within 10 %), open files back to the
// baseline, no unhandled rejections, event-loop lag p99 < 100 ms in the bridge and here.
// SOAK_SECONDS (default 60) sets the length. The nightly variant, SOAK_SECONDS=1800 (restarts are on from 600 s,
// or with SOAK_RESTARTS=1), also restarts the bridge every 2 min and gearmand (kill -9, sqlite queue) every
// 5 min (SOAK_BRIDGE_RESTART_SECONDS, SOAK_GEARMAND_RESTART_SECONDS), and runs a background-job stream: every
// background job the server acknowledged must complete at least once, and every foreground job completes once
// or fails with a typed error.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, expect, test } from "vitest";
import type { WebSocket } from "ws";
import type { BridgePolicy } from "../../bridge/bridge.ts";
import { Client, GearmanError, Worker } from "../../src/node.ts";
import { type BridgeProcess, type BridgeStats, fdCount, startBridgeProcess } from "../support/bridge-process.ts";
import { freePort, type Gearmand, serverKind, startGearmand } from "../support/gearmand.ts";
import { retainedBytes } from "../support/peers.ts";
import { sleep, text, trackedWs, waitFor } from "./helpers.ts";

const env = process.env;
const SECONDS = Number(env.SOAK_SECONDS ?? 60);
const RESTARTS = env.SOAK_RESTARTS !== undefined ? env.SOAK_RESTARTS === "1" : SECONDS >= 600;
const BRIDGE_RESTART_MS = Number(env.SOAK_BRIDGE_RESTART_SECONDS ?? 120) * 1000;
const GEARMAND_RESTART_MS = Number(env.SOAK_GEARMAND_RESTART_SECONDS ?? 300) * 1000;
const CLIENTS = 50;
const IN_FLIGHT = 10;
const WORKERS = 4;
const WORKER_CONCURRENCY = 8;
const KILL_EVERY_MS = 5000;
const SAMPLE_EVERY_MS = 5000;
const FN = "soak.echo";
const POLICY: BridgePolicy = {
  tokens: {
    "tok-soak-client": { id: "soakc", roles: ["client"], submit: ["soak.*"] },
    "tok-soak-worker": { id: "soakw", roles: ["worker"], register: ["soak.*"] },
  },
};

const quiet = {};
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

let cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.race([Promise.resolve().then(c).catch(() => {}), sleep(5000)]);
  cleanups = [];
});

interface Sample {
  at: number;
  bridge: BridgeStats;
  /** This process (no forced GC here: a full GC of this heap stalls the 550 connections for up to a second). */
  rss: number;
  heapUsed: number;
  fds: number;
}

/** Spec F: the last `n` samples lie within `ratio` of each other (no growth trend after warm-up). */
function flat(values: number[], n = 10, ratio = 1.1): { ok: boolean; min: number; max: number } {
  const last = values.slice(-n);
  const min = Math.min(...last);
  const max = Math.max(...last);
  return { ok: max <= min * ratio, min, max };
}

test(`F: soak for ${SECONDS} s: ${CLIENTS} WS clients × ${IN_FLIGHT} jobs, ${WORKERS} WS workers, one killed every 5 s${RESTARTS ? ", bridge and gearmand restarts, background stream" : ""}`, async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  cleanups.push(() => process.off("unhandledRejection", onUnhandled));

  // The job server: gearmand with a persistent queue when it is restarted, else whatever the suite runs against.
  let g: Gearmand;
  let restartGearmand: (() => Promise<void>) | undefined;
  if (RESTARTS) {
    const dir = mkdtempSync(join(tmpdir(), "soak-sqlite-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const args = ["--threads=0", "-b", "1024", "-q", "libsqlite3", `--libsqlite3-db=${join(dir, "queue.db")}`];
    g = await startGearmand({ port, args, real: true });
    restartGearmand = async () => {
      await g.stop("SIGKILL");
      g = await startGearmand({ port, args, real: true });
    };
  } else {
    g = await startGearmand({ args: ["--threads=0", "-b", "1024"] });
  }
  cleanups.push(() => g.stop());
  const bridge: BridgeProcess = await startBridgeProcess({
    upstream: g.address, policy: POLICY,
    // maxHandles: the per-connection memory of handles for GET_STATUS is a bounded cache (4096 by default); a
    // smaller one fills during the warm-up, so that what the trend check sees after it is not the cache filling.
    limits: { submitsPerSecond: 1e6, submitBurst: 1e6, maxConnectionsPerPrincipal: 5000, maxConnectionsPerIp: 5000, maxHandles: 256 },
    // V8 grows its young generation in steps under load (15 → 24 → 40 MiB reserved within the first minute,
    // then flat: measured over 180 s). Starting it at its usual cap keeps those steps out of the RSS trend, so
    // what the trend check sees is memory the bridge keeps.
    nodeFlags: ["--min-semi-space-size=16"],
  });
  cleanups.push(() => bridge.close());
  await sleep(200);
  const bridgeBase = await bridge.stats();
  const fdBase = await fdCount();
  const heldBase = await retainedBytes();

  // Bookkeeping. A job id is `<lane>:<seq>`; a lane submits one job at a time.
  const execs = new Map<number, Uint8Array>(); // lane → executions per seq (one byte a job: 30 min stay small)
  const count = (laneId: number, seq: number): number => {
    let a = execs.get(laneId)!;
    if (seq >= a.length) {
      const grown = new Uint8Array(a.length * 2);
      grown.set(a);
      execs.set(laneId, (a = grown));
    }
    return (a[seq] = Math.min(255, a[seq]! + 1));
  };
  const heldBy = new Map<string, Set<number>>(); // id → worker generations that ran it, until the client has the result
  const killedHeld = new Set<string>(); // ids a worker held (result not yet with the client) when it was killed
  const bgExecs = new Map<string, number>();
  let reexecutions = 0;

  // Workers: one generation number each; a killed one is replaced by a new generation.
  let generation = 0;
  const workers: { w: Worker; sockets: WebSocket[]; gen: number }[] = [];
  const startWorker = async (): Promise<{ w: Worker; sockets: WebSocket[]; gen: number }> => {
    const gen = generation++;
    const t = trackedWs("tok-soak-worker");
    const w = new Worker({ servers: [bridge.url], connector: t.connector, concurrency: WORKER_CONCURRENCY, logger: quiet, reconnectDelay: 50, maxReconnectDelay: 500 });
    w.defineFunction(FN, async (job) => {
      const id = job.text();
      if (id.startsWith("bg:")) {
        bgExecs.set(id, (bgExecs.get(id) ?? 0) + 1);
        return "bg";
      }
      const [lane, seq] = id.split(":").map(Number) as [number, number];
      if (count(lane, seq) > 1) reexecutions++;
      let held = heldBy.get(id);
      if (!held) heldBy.set(id, (held = new Set()));
      held.add(gen);
      await sleep(2 + Math.floor(Math.random() * 8));
      return `r:${id}`;
    });
    await w.start();
    return { w, sockets: t.sockets, gen };
  };
  for (let i = 0; i < WORKERS; i++) workers.push(await startWorker());
  cleanups.push(() => Promise.all(workers.map((x) => x.w.stop({ graceful: false }))));

  // Clients: 50 over the bridge, 10 lanes each.
  const clients = Array.from({ length: CLIENTS }, () =>
    new Client({ servers: [bridge.url], token: "tok-soak-client", logger: quiet, reconnectDelay: 50, maxReconnectDelay: 500 }));
  cleanups.push(() => Promise.all(clients.map((c) => c.close())));
  let submitted = 0;
  let completed = 0;
  let wrong = 0;
  const failures = new Map<string, number>();
  let untyped = 0;
  let stopping = false;
  const lane = async (c: Client, laneId: number): Promise<void> => {
    execs.set(laneId, new Uint8Array(1024));
    for (let seq = 0; !stopping; seq++) {
      const id = `${laneId}:${seq}`;
      submitted++;
      try {
        const out = text(await c.execute(FN, id, { timeout: 30_000 }));
        if (out === `r:${id}`) completed++;
        else wrong++;
      } catch (err) {
        if (err instanceof GearmanError) failures.set(err.name, (failures.get(err.name) ?? 0) + 1);
        else untyped++;
        await sleep(50 + Math.random() * 50);
      } finally {
        heldBy.delete(id);
      }
    }
  };

  const lag = monitorEventLoopDelay({ resolution: 10 });
  const samples: Sample[] = [];
  const sample = async (): Promise<void> => {
    const { rss, heapUsed } = process.memoryUsage();
    samples.push({ at: Date.now(), bridge: await bridge.stats(), rss, heapUsed, fds: await fdCount() });
  };

  // Background stream (nightly): what the server acknowledged must run at least once.
  const bgAcked: string[] = [];
  let bgFailed = 0;
  const bgClient = new Client({ servers: [bridge.url], token: "tok-soak-client", logger: quiet, reconnectDelay: 50, maxReconnectDelay: 500 });
  cleanups.push(() => bgClient.close());
  const backgroundStream = async (): Promise<void> => {
    for (let n = 0; !stopping; n++) {
      const id = `bg:${n}`;
      await bgClient.submitBackground(FN, id, { timeout: 10_000 }).then(() => void bgAcked.push(id), () => void bgFailed++);
      await sleep(20);
    }
  };

  let kills = 0;
  let bridgeRestarts = 0;
  let gearmandRestarts = 0;
  const kill = async (): Promise<void> => {
    const i = kills++ % WORKERS;
    const victim = workers[i]!;
    for (const [id, gens] of heldBy) if (gens.has(victim.gen)) killedHeld.add(id);
    for (const ws of [...victim.sockets]) ws.terminate();
    await victim.w.stop({ graceful: false });
    workers[i] = await startWorker();
  };

  // Run.
  lag.enable();
  const t0 = Date.now();
  const end = t0 + SECONDS * 1000;
  const lanes = clients.flatMap((c, ci) => Array.from({ length: IN_FLIGHT }, (_, li) => lane(c, ci * IN_FLIGHT + li)));
  const bg = RESTARTS ? backgroundStream() : Promise.resolve();
  let nextKill = t0 + KILL_EVERY_MS;
  let nextSample = t0 + SAMPLE_EVERY_MS;
  let nextBridgeRestart = t0 + BRIDGE_RESTART_MS;
  let nextGearmandRestart = t0 + GEARMAND_RESTART_MS;
  while (Date.now() < end) {
    await sleep(Math.max(1, Math.min(nextKill, nextSample, end) - Date.now()));
    const now = Date.now();
    if (now >= nextKill && now < end) {
      nextKill += KILL_EVERY_MS;
      await kill();
    }
    if (RESTARTS && now >= nextBridgeRestart && now < end) {
      nextBridgeRestart += BRIDGE_RESTART_MS;
      bridgeRestarts++;
      await bridge.restart();
    }
    if (RESTARTS && restartGearmand && now >= nextGearmandRestart && now < end) {
      nextGearmandRestart += GEARMAND_RESTART_MS;
      gearmandRestarts++;
      await restartGearmand();
    }
    if (now >= nextSample) {
      nextSample += SAMPLE_EVERY_MS;
      await sample();
    }
  }
  stopping = true;
  await Promise.all([...lanes, bg]);
  lag.disable();
  const ranFor = (Date.now() - t0) / 1000;
  const bridgeLag = await bridge.stats();

  // Every acknowledged background job ran at least once (the workers are still up).
  if (RESTARTS) await waitFor(() => bgAcked.every((id) => (bgExecs.get(id) ?? 0) >= 1), 120_000, "every acknowledged background job to run");

  // Close everything: the bridge's connections and open files, and ours, go back to the baseline.
  await Promise.all([...clients.map((c) => c.close()), bgClient.close(), ...workers.map((x) => x.w.stop({ graceful: false }))]);
  let after = await bridge.stats();
  for (let i = 0; i < 200 && (after.connections > 0 || after.fds > bridgeBase.fds); i++) {
    await sleep(50);
    after = await bridge.stats();
  }
  let fdsAfter = await fdCount();
  for (let i = 0; i < 100 && fdsAfter > fdBase; i++) {
    await sleep(50);
    fdsAfter = await fdCount();
  }
  // What the SDK clients and workers held is gone with them (sockets whose peer never took the FIN go after 2 s).
  let heldAfter = await retainedBytes();
  for (let i = 0; i < 30 && heldAfter - heldBase > 16 << 20; i++) {
    await sleep(100);
    heldAfter = await retainedBytes();
  }

  // Report.
  const executedJobs = [...execs.values()].reduce((n, counts) => n + counts.filter((x) => x > 0).length, 0);
  const bookkeeping = [...execs.values()].reduce((n, counts) => n + counts.length, 0);
  const reexecuted: string[] = [];
  for (const [laneId, counts] of execs) counts.forEach((n, seq) => n > 1 && reexecuted.push(`${laneId}:${seq}`));
  const failed = [...failures.values()].reduce((a, b) => a + b, 0);
  const bridgeRss = flat(samples.map((s) => s.bridge.rss));
  console.log(`F soak (${serverKind()}${RESTARTS ? ", restarts" : ""}): ${ranFor.toFixed(0)} s, ${submitted} submitted, ${completed} completed, ` +
    `${failed} typed failures ${JSON.stringify(Object.fromEntries(failures))}, ${wrong} wrong, ${untyped} untyped; ${kills} worker kills, ` +
    `${reexecutions} re-executions (${reexecuted.length} jobs, all held by killed workers: ${killedHeld.size} held at kills)` +
    (RESTARTS ? `; ${bridgeRestarts} bridge and ${gearmandRestarts} gearmand restarts; background ${bgAcked.length} acked, ${bgFailed} refused` : ""));
  console.log(`F soak: bridge RSS ${samples.map((s) => mib(s.bridge.rss)).join(" ")}; heap+buffers ${samples.map((s) => mib(s.bridge.retained)).join(" ")}; heap reserved ${samples.map((s) => mib(s.bridge.heapTotal)).join(" ")}; fds ${bridgeBase.fds} → ${Math.max(...samples.map((s) => s.bridge.fds))} → ${after.fds}; ` +
    `lag p99 ${bridgeLag.lagP99.toFixed(1)} ms (max ${bridgeLag.lagMax.toFixed(0)})`);
  console.log(`F soak: this process RSS ${samples.map((s) => mib(s.rss)).join(" ")}; heap used ${samples.map((s) => mib(s.heapUsed)).join(" ")}; heap+buffers after GC ` +
    `${mib(heldBase)} before → ${mib(heldAfter)} after closing (bookkeeping ${mib(bookkeeping)}); fds ${fdBase} → ${Math.max(...samples.map((s) => s.fds))} → ${fdsAfter}; ` +
    `lag p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms (max ${(lag.max / 1e6).toFixed(0)})`);

  // No lost or duplicated results.
  expect(unhandled).toEqual([]);
  expect(untyped).toBe(0);
  expect(wrong).toBe(0);
  expect(completed + failed).toBe(submitted);
  if (!RESTARTS) expect(failed).toBe(0);
  expect(completed).toBeGreaterThan(100 * SECONDS);
  expect(executedJobs).toBeGreaterThanOrEqual(completed);
  // At-least-once: only jobs a killed worker held ran again, and with a kill every 5 s some did.
  for (const id of reexecuted) expect(killedHeld.has(id) || RESTARTS, `re-executed ${id}`).toBe(true);
  if (!RESTARTS && killedHeld.size > 0) expect(reexecutions).toBeGreaterThan(0);
  expect(kills).toBeGreaterThanOrEqual(Math.floor(SECONDS * 1000 / KILL_EVERY_MS) - 1);
  // Resources.
  expect(after.connections).toBe(0);
  expect(after.fds).toBeLessThanOrEqual(bridgeBase.fds);
  expect(fdsAfter).toBeLessThanOrEqual(fdBase);
  expect(bridgeRss.ok, `bridge RSS of the last 10 samples ${mib(bridgeRss.min)}…${mib(bridgeRss.max)}`).toBe(true);
  // This process hosts 550 SDK connections and vitest: its heap swings by tens of MiB from sample to sample
  // (jobs in flight), so the 10 % band is for the bridge. Here: once closed, the SDK holds nothing.
  expect(heldAfter - heldBase - bookkeeping, "heap+buffers of this process after closing, over the baseline").toBeLessThan(16 << 20);
  expect(bridgeLag.lagP99).toBeLessThan(100);
  expect(lag.percentile(99) / 1e6).toBeLessThan(100);
}, SECONDS * 1000 + 60_000 + (RESTARTS ? 120_000 : 0));
