// Node: test-plan section C through the SDK, the cases no other suite covers (issue #7, "Reliability suites").
// Already covered elsewhere, so not repeated here:
// - C1 over TCP (worker stop mid-job, transport cut, child worker SIGKILL): faults.test.ts "worker lost mid-job"
// - C2 foreground (`--job-retries=2`, the worker's connection dies every time → JobFailedError): faults.test.ts
// - C3 (a job's timeout, a second worker runs the job, the late result is dropped): semantics.test.ts "timeout …"
// - C4 over a gearmand restart (no unique → ConnectionError; unique + resubmitOnReconnect → completes):
//   faults.test.ts "gearmand restarted"
// - C7 (bridge restart) and C8 (WS closed mid-packet): bridge-policy.test.ts "C: through the bridge", bridge-sdk.test.ts
// - C10 (QUEUE_ERROR among pipelined submits): faults.test.ts "maxqueue"
// Every test here checks that each job ends in exactly one outcome (a result, a typed job failure or a typed
// error) and that nothing the job server kept is lost.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { type Bridge, type BridgePolicy, startBridge } from "../../bridge/bridge.ts";
import {
  ClosedError, ConnectionError, GearmanError, JobFailedError, PacketType as T, type Task, argText,
  encodePacket, partitioned,
} from "../../src/node.ts";
import { freePort } from "../support/gearmand.ts";
import { admin, tcpPeer } from "../support/peers.ts";
import { fname, gate, killableConnector, memoryLogger, Resources, sleep, text, trackedWs, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

const POLICY: BridgePolicy = {
  tokens: {
    "tok-web": { id: "web", roles: ["client"], submit: ["app.*"] },
    "tok-svc": { id: "svc", roles: ["worker"], register: ["app.*"] },
  },
};

async function bridgeTo(upstream: string): Promise<Bridge> {
  const b = await startBridge({ upstream, policy: POLICY, logger: () => {} });
  res.onCleanup(() => b.close());
  return b;
}

/** Everything that happened to one task: terminal events and how `result()` settled. */
interface Outcome {
  terminals: string[];
  settled: { ok: true; data: string } | { ok: false; error: Error } | undefined;
  settles: number;
}

function watch(task: Task): Outcome {
  const o: Outcome = { terminals: [], settled: undefined, settles: 0 };
  task.on("*", (e) => {
    if (e.type === "complete" || e.type === "fail" || e.type === "exception") o.terminals.push(e.type);
  });
  task.result().then(
    (d) => {
      o.settles++;
      o.settled = { ok: true, data: text(d) };
    },
    (error: Error) => {
      o.settles++;
      o.settled = { ok: false, error };
    },
  );
  return o;
}

/**
 * Exactly one outcome: a result (one `complete`), a typed job failure (one `fail`/`exception`), or a typed
 * error with no terminal event at all. Waits a little for duplicates.
 */
async function expectOneOutcome(o: Outcome, kind: "result" | typeof GearmanError | (new (...a: never[]) => Error)): Promise<void> {
  await waitFor(() => o.settled !== undefined, 15_000, "the task to settle");
  await sleep(100);
  expect(o.settles).toBe(1);
  if (kind === "result") {
    expect(o.settled!.ok).toBe(true);
    expect(o.terminals).toEqual(["complete"]);
    return;
  }
  expect(o.settled!.ok).toBe(false);
  const error = (o.settled as { error: Error }).error;
  expect(error).toBeInstanceOf(kind);
  expect(error).toBeInstanceOf(GearmanError);
  if (error instanceof JobFailedError) expect(o.terminals).toEqual(["fail"]);
  else expect(o.terminals).toEqual([]);
}

/** The queue of one function on the job server: nothing stuck, nothing lost. */
async function total(port: number, fn: string): Promise<number> {
  const row = (await admin(port, "status")).map((l) => l.split("\t")).find((c) => c[0] === fn);
  return row ? Number(row[1]) : 0;
}

describe("C1: worker killed mid-job through the bridge", () => {
  it("WS terminate (no close frame): the job is reassigned with the same handle, the client gets one result", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const b = await bridgeTo(g.address);
    const fn = `app.${fname("c1")}`;
    const runs: { worker: string; handle: string; aborted: boolean }[] = [];
    const handler = (name: string) => async (job: { handle: string; signal: AbortSignal }) => {
      const run = { worker: name, handle: job.handle, aborted: false };
      runs.push(run);
      if (runs.length === 1) {
        await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
        run.aborted = true;
        return "from the killed worker (dropped)";
      }
      return `done by ${name}`;
    };
    const t1 = trackedWs("tok-svc");
    const w1 = res.worker({ servers: [b.url], connector: t1.connector, reconnectDelay: 50 });
    w1.defineFunction(fn, handler("w1"));
    await w1.start();
    const c = res.client({ servers: [b.url], token: "tok-web" });
    const task = c.submit(fn, "x", { timeout: 20_000 });
    const o = watch(task);
    await waitFor(() => runs.length === 1, 10_000, "the first run");
    const w2 = res.worker({ servers: [b.url], token: "tok-svc" });
    w2.defineFunction(fn, handler("w2"));
    await w2.start();
    t1.sockets[0]!.terminate();
    await expectOneOutcome(o, "result");
    expect((o.settled as { data: string }).data).toMatch(/^done by w[12]$/);
    expect(runs.length).toBe(2);
    expect(runs.map((r) => r.handle)).toEqual([task.handle, task.handle]);
    expect(runs[0]!.aborted).toBe(true);
    expect(await total(g.port, fn)).toBe(0);
  });
});

describe("C2: --job-retries=2 and a worker that crashes twice", () => {
  it("a background job is dropped after two runs: no third run, the server no longer knows it", async () => {
    const g = await res.gearmand({ args: ["--threads=0", "--job-retries=2"] });
    const fn = fname("c2bg");
    const k = killableConnector();
    let runs = 0;
    const w = res.worker({ servers: [g.address], connector: k.connector, reconnectDelay: 20 });
    w.defineFunction(fn, async (job) => {
      runs++;
      k.transports[k.transports.length - 1]!.close(); // the worker "crashes" holding the job
      await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
    });
    await w.start();
    const c = res.client({ servers: [g.address] });
    const handle = await c.submitBackground(fn, "poison");
    await waitFor(() => runs === 2, 10_000, "two runs");
    await sleep(500);
    expect(runs).toBe(2);
    expect((await c.getStatus(handle)).known).toBe(false);
    expect(await total(g.port, fn)).toBe(0);
    // A healthy worker that registers now finds nothing: the job is gone, not parked.
    let later = 0;
    const healthy = res.worker({ servers: [g.address] });
    healthy.defineFunction(fn, () => void later++);
    await healthy.start();
    await sleep(300);
    expect(later).toBe(0);
  });
});

describe("C4: the client goes away while its job runs", () => {
  it("client.close(): its tasks reject with ClosedError, a queued job is discarded, the running one ends quietly", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const fn = fname("c4close");
    const idle = fname("c4idle");
    const release = gate();
    const logger = memoryLogger();
    const w = res.worker({ servers: [g.address], logger });
    let finished = 0;
    w.defineFunction(fn, async () => {
      await release.promise;
      finished++;
      return "nobody listens";
    });
    await w.start();
    const c = res.client({ servers: [g.address] });
    const running = watch(c.submit(fn, "run", { timeout: 10_000 }));
    const queued = watch(c.submit(idle, "queued", { timeout: 10_000 }));
    await waitFor(async () => (await total(g.port, fn)) === 1 && (await total(g.port, idle)) === 1, 10_000, "both jobs on the server");
    const connections = (await admin(g.port, "workers")).length;
    await c.close();
    await expectOneOutcome(running, ClosedError);
    await expectOneOutcome(queued, ClosedError);
    // The queued job lost its only client: the server discards it when a worker asks (it never runs). The
    // running one stays with its worker, whose result goes nowhere. (Wait until the server has seen the client
    // go, so that the new worker's first GRAB cannot overtake it.)
    await waitFor(async () => (await admin(g.port, "workers")).length < connections, 10_000, "the server to drop the client");
    let idleRuns = 0;
    const late = res.worker({ servers: [g.address] });
    late.defineFunction(idle, () => void idleRuns++);
    await late.start();
    await waitFor(async () => (await total(g.port, idle)) === 0, 10_000, "the queued job discarded");
    expect(idleRuns).toBe(0);
    release.resolve();
    await waitFor(() => finished === 1, 10_000, "the running job to end");
    await waitFor(async () => (await total(g.port, fn)) === 0, 10_000, "the finished job gone");
    expect(logger.messages.filter((m) => m.startsWith("warn") || m.startsWith("error"))).toEqual([]);
    // The worker and a new client carry on.
    const c2 = res.client({ servers: [g.address] });
    expect(text(await c2.execute(fn, "next", { timeout: 10_000 }))).toBe("nobody listens");
  });

  it("the client's connection is cut mid-job: ConnectionError, except unique + resubmitOnReconnect, which completes once", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const fn = fname("c4cut");
    const release = gate();
    const runs = new Map<string, number>();
    const w = res.worker({ servers: [g.address], concurrency: 3 });
    w.defineFunction(fn, async (job) => {
      runs.set(job.text(), (runs.get(job.text()) ?? 0) + 1);
      await release.promise;
      return `done ${job.text()}`;
    });
    await w.start();
    const kPlain = killableConnector();
    const kResub = killableConnector();
    const plain = res.client({ servers: [g.address], connector: kPlain.connector });
    const resub = res.client({ servers: [g.address], connector: kResub.connector, resubmitOnReconnect: true, reconnectDelay: 20 });
    const noUnique = watch(plain.submit(fn, "no-unique", { timeout: 10_000 }));
    const uniqueOnly = watch(plain.submit(fn, "unique-no-resubmit", { unique: fname("u1"), timeout: 10_000 }));
    const key = fname("idem");
    const idempotent = watch(resub.submit(fn, "unique-resubmit", { unique: key, timeout: 10_000 }));
    const noKey = watch(resub.submit(fn, "resubmit-no-unique", { timeout: 10_000 }));
    await waitFor(() => runs.size === 3, 10_000, "three jobs running");
    kPlain.transports[0]!.close();
    kResub.transports[0]!.close();
    await expectOneOutcome(noUnique, ConnectionError);
    await expectOneOutcome(uniqueOnly, ConnectionError);
    await expectOneOutcome(noKey, ConnectionError);
    await sleep(100);
    release.resolve();
    await expectOneOutcome(idempotent, "result");
    expect((idempotent.settled as { data: string }).data).toBe("done unique-resubmit");
    // At least once: the resubmit joined the running job (same unique) or ran it again.
    const again = runs.get("unique-resubmit")!;
    expect(again).toBeGreaterThanOrEqual(1);
    expect(again).toBeLessThanOrEqual(2);
    expect(kResub.transports.length).toBe(2);
    await waitFor(async () => (await total(g.port, fn)) === 0, 10_000, "every job gone from the server");
  });

  it("through the bridge: a terminated client WebSocket rejects with ConnectionError (not PolicyError); unique + resubmit completes", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const b = await bridgeTo(g.address);
    const fn = `app.${fname("c4ws")}`;
    const release = gate();
    const runs = new Map<string, number>();
    const w = res.worker({ servers: [b.url], token: "tok-svc", concurrency: 2 });
    w.defineFunction(fn, async (job) => {
      runs.set(job.text(), (runs.get(job.text()) ?? 0) + 1);
      await release.promise;
      return `done ${job.text()}`;
    });
    await w.start();
    const t = trackedWs("tok-web");
    const c = res.client({ servers: [b.url], connector: t.connector, resubmitOnReconnect: true, reconnectDelay: 20 });
    const lost = watch(c.submit(fn, "lost", { timeout: 10_000 }));
    const kept = watch(c.submit(fn, "kept", { unique: fname("k"), timeout: 10_000 }));
    await waitFor(() => runs.size === 2, 10_000, "both running");
    t.sockets[0]!.terminate();
    await expectOneOutcome(lost, ConnectionError);
    release.resolve();
    await expectOneOutcome(kept, "result");
    expect((kept.settled as { data: string }).data).toBe("done kept");
    expect(runs.get("kept")).toBeLessThanOrEqual(2);
    await waitFor(async () => (await total(g.port, fn)) === 0, 10_000, "every job gone from the server");
  });
});

describe("C5/C6: gearmand kill -9 with jobs in flight (real gearmand, sqlite queue)", () => {
  const sqliteArgs = (db: string, extra: string[] = []): string[] => ["--threads=0", "-q", "libsqlite3", `--libsqlite3-db=${db}`, ...extra];

  // gearmand's libsqlite3 queue keys its rows on (unique, function): background jobs submitted without a unique
  // overwrite each other there and only the last survives a crash (found here). The SDK therefore gives every
  // background submit without a unique a random one (src/core/client.ts).
  it("C5: foreground calls reject with ConnectionError; background jobs (queued and running) survive a restart and run again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gearmand-sqlite-"));
    res.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(dir, "queue.db");
    const port = await freePort();
    let g = await res.gearmand({ port, args: sqliteArgs(db), real: true });
    const fn = fname("c5");
    const runs: { payload: string; at: "before" | "after" }[] = [];
    let phase: "before" | "after" = "before";
    const w = res.worker({ servers: [g.address], concurrency: 2, reconnectDelay: 50, maxReconnectDelay: 200 });
    w.defineFunction(fn, async (job) => {
      runs.push({ payload: job.text(), at: phase });
      if (phase === "before") await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
      return `ok ${job.text()}`;
    });
    await w.start();
    const uniques: string[] = [];
    const c = res.client({
      servers: [g.address], reconnectDelay: 50,
      tap: (d, p) => void (d === "out" && p.type === T.SUBMIT_JOB_BG && uniques.push(argText(p, 1))),
    });
    const fgRunning = watch(c.submit(fn, "fg-running", { timeout: 20_000 }));
    const bgRunning = await c.submitBackground(fn, "bg-running");
    await waitFor(() => runs.length === 2, 10_000, "two jobs running");
    const queuedHandles = await Promise.all(Array.from({ length: 5 }, (_, i) => c.submitBackground(fn, `bg-${i}`)));
    const fgQueued = watch(c.submit(fn, "fg-queued", { timeout: 20_000 }));
    await waitFor(async () => (await total(g.port, fn)) === 8, 10_000, "8 jobs on gearmand");
    // Each background submit went out with its own unique, though the caller gave none.
    expect(uniques.length).toBe(6);
    expect(new Set(uniques).size).toBe(6);
    for (const u of uniques) expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}$/);
    await g.stop("SIGKILL");
    await expectOneOutcome(fgRunning, ConnectionError);
    await expectOneOutcome(fgQueued, ConnectionError);
    phase = "after";
    g = await res.gearmand({ port, args: sqliteArgs(db), real: true });
    const expected = ["bg-running", ...Array.from({ length: 5 }, (_, i) => `bg-${i}`)];
    await waitFor(() => expected.every((p) => runs.some((r) => r.payload === p && r.at === "after")), 15_000, "every background job to run again").catch(async (e) => {
      console.log(JSON.stringify(runs), await admin(g.port, "status"), await admin(g.port, "workers"), g.log().slice(-3000));
      throw e;
    });
    await sleep(300);
    const after = runs.filter((r) => r.at === "after").map((r) => r.payload).sort();
    // Foreground jobs are not persisted: they did not come back.
    expect(after).toEqual([...expected].sort());
    await waitFor(async () => (await total(g.port, fn)) === 0, 10_000, "the queue empty");
    // Handles restart with the new process: the client dropped its old handle → server map, so asking about an
    // old handle goes to the live server and does not throw (the number may now name another job: not stable).
    await expect(c.getStatus(queuedHandles[0]!)).resolves.toMatchObject({ handle: queuedHandles[0] });
    expect(bgRunning).toMatch(/^H:/);
    expect(text(await c.execute(fn, "fresh", { timeout: 5000 }))).toBe("ok fresh");
  }, 40_000);

  it("C6 (documented as unsafe): with --store-queue-on-shutdown, kill -9 loses the background jobs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gearmand-sqlite-"));
    res.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(dir, "queue.db");
    const port = await freePort();
    let g = await res.gearmand({ port, args: sqliteArgs(db, ["--store-queue-on-shutdown"]), real: true });
    const fn = fname("c6");
    const c = res.client({ servers: [g.address] });
    await Promise.all(Array.from({ length: 3 }, (_, i) => c.submitBackground(fn, `bg-${i}`)));
    expect(await total(g.port, fn)).toBe(3);
    await g.stop("SIGKILL");
    g = await res.gearmand({ port, args: sqliteArgs(db, ["--store-queue-on-shutdown"]), real: true });
    let ran = 0;
    const w = res.worker({ servers: [g.address] });
    w.defineFunction(fn, () => void ran++);
    await w.start();
    await sleep(500);
    expect(ran).toBe(0);
    expect(await total(g.port, fn)).toBe(0);
  }, 30_000);
});

describe("C9: late and foreign terminal packets", () => {
  it("WORK_EXCEPTION / WORK_FAIL after WORK_COMPLETE, and a non-owner WORK_COMPLETE → ERROR JOB_NOT_FOUND; nothing breaks", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const fn = fname("c9");
    const c = res.client({ servers: [g.address] });
    const owner = await tcpPeer(g.port);
    const stranger = await tcpPeer(g.port);
    res.onCleanup(() => owner.close());
    res.onCleanup(() => stranger.close());
    owner.send(T.CAN_DO, [fn]);
    stranger.send(T.CAN_DO, [`${fn}_other`]);
    const task = c.submit(fn, "x", { timeout: 10_000 });
    const o = watch(task);
    const events: string[] = [];
    task.on("*", (e) => events.push(e.type));
    await task.created();
    owner.send(T.GRAB_JOB, []);
    const assign = await owner.next(T.JOB_ASSIGN);
    const h = argText(assign, 0);
    expect(h).toBe(task.handle);
    // A connection that does not hold the job cannot finish it.
    stranger.send(T.WORK_COMPLETE, [h, "forged"]);
    expect(argText(await stranger.next(T.ERROR), 0)).toBe("JOB_NOT_FOUND");
    await sleep(50);
    expect(o.settled).toBeUndefined();
    owner.send(T.WORK_COMPLETE, [h, "real"]);
    owner.send(T.WORK_EXCEPTION, [h, "late exception"]);
    owner.send(T.WORK_FAIL, [h]);
    owner.send(T.WORK_COMPLETE, [h, "second complete"]);
    for (let i = 0; i < 3; i++) expect(argText(await owner.next(T.ERROR), 0)).toBe("JOB_NOT_FOUND");
    await expectOneOutcome(o, "result");
    expect((o.settled as { data: string }).data).toBe("real");
    expect(events).toEqual(["created", "complete"]);
    // The server, the client connection and both raw workers carry on.
    const nextTask = c.submit(fn, "y", { timeout: 10_000 });
    const next = watch(nextTask);
    await nextTask.created();
    owner.send(T.GRAB_JOB, []);
    const h2 = argText(await owner.next(T.JOB_ASSIGN), 0);
    owner.send(T.WORK_COMPLETE, [h2, "again"]);
    await expectOneOutcome(next, "result");
    stranger.send(T.ECHO_REQ, ["alive"]);
    expect(argText(await stranger.next(T.ECHO_RES), 0)).toBe("alive");
    expect(await total(g.port, fn)).toBe(0);
  });

  it("the SDK worker takes an ERROR JOB_NOT_FOUND for a late packet as expected (debug log) and keeps working", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const fn = fname("c9sdk");
    const logger = memoryLogger();
    const { connector, transports } = killableConnector();
    // After each WORK_COMPLETE the worker sends, a stale WORK_FAIL for the same handle follows on the wire.
    const w = res.worker({
      servers: [g.address], logger, connector,
      tap: (direction, p) => {
        if (direction === "out" && p.type === T.WORK_COMPLETE) {
          const h = argText(p, 0);
          setTimeout(() => transports[0]!.write(encodePacket(T.WORK_FAIL, [h])), 20);
        }
      },
    });
    w.defineFunction(fn, (job) => `ok ${job.text()}`);
    await w.start();
    const c = res.client({ servers: [g.address] });
    const outcomes = Array.from({ length: 5 }, (_, i) => watch(c.submit(fn, String(i), { timeout: 10_000 })));
    for (const o of outcomes) await expectOneOutcome(o, "result");
    expect(outcomes.map((o) => (o.settled as { data: string }).data)).toEqual(["ok 0", "ok 1", "ok 2", "ok 3", "ok 4"]);
    await waitFor(() => logger.messages.filter((m) => m.includes("JOB_NOT_FOUND")).length === 5, 3000, "five JOB_NOT_FOUND");
    expect(logger.messages.filter((m) => m.includes("JOB_NOT_FOUND")).every((m) => m.startsWith("debug:"))).toBe(true);
    expect(logger.messages.filter((m) => m.startsWith("warn") || m.startsWith("error"))).toEqual([]);
    expect(transports.length).toBe(1);
    expect(text(await c.execute(fn, "after", { timeout: 5000 }))).toBe("ok after");
  });
});

describe("C11: map/reduce fan-out where one shard's worker dies", () => {
  it("the shard runs again (at-least-once) and the aggregate counts every shard exactly once", async () => {
    const split = fname("c11split");
    const count = fname("c11count");
    const SHARDS = 8;
    const value = (i: number): number => (i + 1) * 10;
    const m = res.worker({ concurrency: 1 });
    let aggregated: string[] = [];
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        for (let i = 0; i < SHARDS; i++) await job.sendData(`shard-${i}`);
      },
      aggregate: (results) => {
        aggregated = results.map(text);
        const seen = new Set<string>();
        let sum = 0;
        for (const r of aggregated) {
          const [shard, n] = r.split("=");
          seen.add(shard!);
          sum += Number(n);
        }
        return JSON.stringify({ shards: seen.size, results: aggregated.length, sum });
      },
    }));
    await m.start();
    const k = killableConnector();
    const runs: string[] = [];
    let killed = false;
    const reducer = res.worker({ connector: k.connector, concurrency: 4, reconnectDelay: 20 });
    reducer.defineFunction(count, async (job) => {
      const shard = job.text();
      runs.push(shard);
      if (shard === "shard-3" && !killed) {
        killed = true;
        k.transports[k.transports.length - 1]!.close(); // the reducer's worker dies mid-shard
        await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
        return `${shard}=1000000`; // never sent: the run was taken away
      }
      await sleep(5);
      return `${shard}=${value(Number(shard.slice(6)))}`;
    });
    await reducer.start();
    const c = res.client();
    const task = c.submitReduce(split, count, "input", { timeout: 20_000 });
    const o = watch(task);
    await expectOneOutcome(o, "result");
    const out = JSON.parse((o.settled as { data: string }).data) as { shards: number; results: number; sum: number };
    expect(out).toEqual({ shards: SHARDS, results: SHARDS, sum: Array.from({ length: SHARDS }, (_, i) => value(i)).reduce((a, b) => a + b) });
    expect(aggregated).toEqual(Array.from({ length: SHARDS }, (_, i) => `shard-${i}=${value(i)}`));
    // shard-3 ran again; every shard ran at least once (those held by the dead connection may have too).
    expect(runs.filter((r) => r === "shard-3").length).toBe(2);
    for (let i = 0; i < SHARDS; i++) expect(runs).toContain(`shard-${i}`);
    expect(k.transports.length).toBe(2);
    await waitFor(async () => (await total(inject("gearmandPort"), count)) === 0, 10_000, "no reducer job left");
    expect(await total(inject("gearmandPort"), split)).toBe(0);
  });
});
