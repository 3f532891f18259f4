// Node: worker return codes, retries, terminal packets, timeouts and context against a real gearmand (issue #3).
import { afterEach, describe, expect, it } from "vitest";
import { GearmanReturn, type Job, JobFailedError, PacketType, argText } from "../../src/node.ts";
import { serverKind } from "../support/gearmand.ts";
import { fname, gate, memoryLogger, Resources, sleep, tapper, type Tapped, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

const TERMINAL: number[] = [PacketType.WORK_COMPLETE, PacketType.WORK_FAIL, PacketType.WORK_EXCEPTION];
const ASSIGN: number[] = [PacketType.JOB_ASSIGN, PacketType.JOB_ASSIGN_UNIQ, PacketType.JOB_ASSIGN_ALL];

/** Packets of one type and direction, in order. */
function seen(packets: Tapped[], direction: "in" | "out", types: number | number[]): Tapped[] {
  const set = Array.isArray(types) ? types : [types];
  return packets.filter((p) => p.direction === direction && set.includes(p.packet.type));
}

describe("return codes", () => {
  it("SUCCESS sends an empty WORK_COMPLETE", async () => {
    const fn = fname("succ");
    const wt = tapper();
    const w = res.worker({ tap: wt.tap });
    w.defineFunction(fn, () => GearmanReturn.SUCCESS);
    await w.start();
    const c = res.client();
    const task = c.submit(fn, "x");
    const out = await task.result();
    expect(out.length).toBe(0);
    const sent = wt.packets.filter((p) => p.direction === "out" && argText(p.packet, 0) === task.handle);
    expect(sent.map((p) => p.packet.type)).toEqual([PacketType.WORK_COMPLETE]);
    expect(sent[0]!.packet.args[1]!.length).toBe(0);
  });

  it("FAIL sends WORK_FAIL at once: JobFailedError without delay", async () => {
    const fn = fname("failnow");
    const w = res.worker();
    w.defineFunction(fn, () => GearmanReturn.FAIL);
    await w.start();
    const c = res.client();
    await c.echo("warm");
    const t0 = Date.now();
    await expect(c.execute(fn, "x")).rejects.toBeInstanceOf(JobFailedError);
    expect(Date.now() - t0).toBeLessThan(200);
    // the worker goes on working
    await expect(c.execute(fn, "y")).rejects.toBeInstanceOf(JobFailedError);
  });

  it("a thrown error sends WORK_WARNING(message) then WORK_FAIL", async () => {
    const fn = fname("throw");
    const wt = tapper();
    const w = res.worker({ tap: wt.tap });
    w.defineFunction(fn, async () => {
      await sleep(1);
      throw new TypeError("bad input");
    });
    await w.start();
    const c = res.client();
    const task = c.submit(fn, "x");
    const err = (await task.result().catch((e: unknown) => e)) as JobFailedError;
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err.warnings.map(text)).toEqual(["bad input"]);
    const sent = wt.packets.filter((p) => p.direction === "out" && argText(p.packet, 0) === task.handle);
    expect(sent.map((p) => p.packet.type)).toEqual([PacketType.WORK_WARNING, PacketType.WORK_FAIL]);
  });

  it("other return values (number, object, null, unknown code) fail the job", async () => {
    const fn = fname("odd");
    const logger = memoryLogger();
    const w = res.worker({ logger, concurrency: 4 });
    const values: Record<string, unknown> = { num: 42, obj: { a: 1 }, nil: null, code: { name: "SHUTDOWN" }, bool: true };
    w.defineFunction(fn, ((job: Job) => values[job.text()]) as never);
    await w.start();
    const c = res.client();
    for (const k of Object.keys(values)) {
      await expect(c.execute(fn, k), k).rejects.toBeInstanceOf(JobFailedError);
    }
    expect(logger.messages.filter((m) => m.startsWith("warn:")).length).toBe(Object.keys(values).length);
    // a string, bytes and undefined are results
    const ok = res.worker();
    const fn2 = fname("okvals");
    ok.defineFunction(fn2, (job) => (job.text() === "s" ? "str" : job.text() === "b" ? new Uint8Array([1, 2]) : undefined));
    await ok.start();
    expect(text(await c.execute(fn2, "s"))).toBe("str");
    expect([...(await c.execute(fn2, "b"))]).toEqual([1, 2]);
    expect((await c.execute(fn2, "u")).length).toBe(0);
  });
});

describe("how a handler answers", () => {
  it("at once, with a promise or with any thenable; a synchronous throw and a throwing then() both fail the job", async () => {
    const fn = fname("answers");
    const w = res.worker({ concurrency: 2 });
    const answers: Record<string, (job: Job) => unknown> = {
      sync: (job) => `sync:${job.text()}`,
      promise: async (job) => `promise:${job.text()}`,
      thenable: (job) => ({ then: (ok: (v: string) => void) => ok(`thenable:${job.text()}`) }),
      throws: () => {
        throw new Error("thrown at once");
      },
      badThen: () => ({
        then: () => {
          throw new Error("then() threw");
        },
      }),
    };
    w.defineFunction(fn, ((job: Job) => answers[job.text()]!(job)) as never);
    await w.start();
    const c = res.client();
    for (const k of ["sync", "promise", "thenable"]) expect(text(await c.execute(fn, k))).toBe(`${k}:${k}`);
    for (const [k, message] of [["throws", "thrown at once"], ["badThen", "then() threw"]]) {
      const err = (await c.execute(fn, k!).catch((e: unknown) => e)) as JobFailedError;
      expect(err, k).toBeInstanceOf(JobFailedError);
      expect(err.warnings.map(text)).toEqual([message]);
    }
    // The worker goes on, its slots all free again.
    expect(w.running).toBe(0);
    expect(text(await c.execute(fn, "sync"))).toBe("sync:sync");
  });
});

describe("ERROR: run again", () => {
  it("a job that returns ERROR once runs again on the same lone worker and completes", async () => {
    const fn = fname("err1");
    const attempts: number[] = [];
    const w = res.worker();
    w.defineFunction(fn, () => {
      attempts.push(Date.now());
      return attempts.length === 1 ? GearmanReturn.ERROR : "second try";
    });
    await w.start();
    const c = res.client();
    const task = c.submit(fn, "x", { timeout: 10_000 });
    const events: string[] = [];
    task.on("*", (e) => events.push(e.type));
    expect(text(await task.result())).toBe("second try");
    expect(attempts.length).toBe(2);
    expect(events).toEqual(["created", "complete"]);
  });

  it("ERROR does not disturb a slow sibling of the same function held by the same worker", async () => {
    const fn = fname("err2");
    const slowStarted = gate();
    const calls: string[] = [];
    let slowAborted = false;
    const w = res.worker({ concurrency: 2 });
    let flakyTries = 0;
    w.defineFunction(fn, async (job) => {
      calls.push(job.text());
      if (job.text() === "slow") {
        slowStarted.resolve();
        await sleep(1200);
        slowAborted = job.signal.aborted;
        return "slow done";
      }
      flakyTries++;
      return flakyTries === 1 ? GearmanReturn.ERROR : "flaky done";
    });
    await w.start();
    const c = res.client();
    const slow = c.submit(fn, "slow");
    await slowStarted.promise;
    const flaky = c.submit(fn, "flaky");
    expect(text(await slow.result())).toBe("slow done");
    expect(text(await flaky.result())).toBe("flaky done");
    expect(slowAborted).toBe(false);
    expect(calls).toEqual(["slow", "flaky", "flaky"]);
  });

  it("ERROR hands the job to another, sleeping worker right away (gearmand's NOOP)", async () => {
    const fn = fname("errhand");
    const release = gate();
    const w1 = res.worker();
    let w1Runs = 0;
    w1.defineFunction(fn, async () => {
      w1Runs++;
      await release.promise;
      return GearmanReturn.ERROR;
    });
    await w1.start();
    const c = res.client();
    const task = c.submit(fn, "x", { timeout: 5000 });
    await waitFor(() => w1Runs === 1, 3000, "first attempt");
    const wt = tapper();
    const w2 = res.worker({ tap: wt.tap }); // default pollInterval (10 s): only a NOOP wakes it in time
    w2.defineFunction(fn, () => "w2");
    await w2.start();
    await waitFor(() => wt.packets.some((p) => p.direction === "out" && p.packet.type === PacketType.PRE_SLEEP), 3000, "w2 asleep");
    const t0 = Date.now();
    release.resolve();
    expect(text(await task.result())).toBe("w2");
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(w1Runs).toBe(1);
  });

  it("ERROR at once while a GRAB is out: the CANT_DO waits for the answer, so the job that GRAB brings runs once", async () => {
    const fn = fname("errgrab");
    const c = res.client();
    const first = c.submit(fn, "first", { timeout: 10_000 });
    const second = c.submit(fn, "second", { timeout: 10_000 });
    await Promise.all([first.created(), second.created()]);
    const runs: string[] = [];
    const wt = tapper();
    const logger = memoryLogger();
    const w = res.worker({ concurrency: 2, tap: wt.tap, logger });
    // "first" returns ERROR at once: by then the worker has asked for the next job (GRAB), which
    // brings "second". A CANT_DO sent before that answer would take "second" back while it runs here.
    w.defineFunction(fn, (job) => {
      runs.push(job.text());
      return job.text() === "first" && runs.length === 1 ? GearmanReturn.ERROR : `ok ${job.text()}`;
    });
    await w.start();
    expect(text(await second.result())).toBe("ok second");
    expect(text(await first.result())).toBe("ok first");
    expect(runs).toEqual(["first", "second", "first"]);
    const out = wt.packets.filter((p) => p.direction === "out").map((p) => p.packet.type);
    expect(out.indexOf(PacketType.CANT_DO)).toBeGreaterThan(out.indexOf(PacketType.WORK_COMPLETE));
    expect(logger.messages.filter((m) => m.includes("JOB_NOT_FOUND"))).toEqual([]);
  });

  it("a job taken back while its handler still runs comes back under the same handle: the old run's late return does not hide the new run", async () => {
    const fn = fname("backagain");
    const runs: string[] = [];
    const firstRun = gate();
    const secondRun = gate();
    let firstReturned = false;
    const wt = tapper();
    const logger = memoryLogger();
    const w = res.worker({ concurrency: 3, tap: wt.tap, logger });
    const handler = async (job: Job): Promise<string | typeof GearmanReturn.ERROR> => {
      runs.push(job.text());
      const n = runs.filter((r) => r === job.text()).length;
      if (job.text() === "A" && n === 1) {
        await firstRun.promise; // ignores job.signal, as a handler past its timeout may
        firstReturned = true;
        return "stale";
      }
      if (job.text() === "A") {
        await secondRun.promise;
        return "ok A";
      }
      return n === 1 ? GearmanReturn.ERROR : "ok B";
    };
    w.defineFunction(fn, handler);
    await w.start();
    const c = res.client();
    const a = c.submit(fn, "A", { timeout: 15_000 });
    await waitFor(() => runs.length === 1, 5000, "A's first run");
    // CANT_DO: the server takes A back, as after a timeout, while the first run goes on.
    w.removeFunction(fn);
    w.defineFunction(fn, handler);
    await waitFor(() => runs.length === 2, 5000, "A's second run");
    const handles = seen(wt.packets, "in", ASSIGN).map((p) => argText(p.packet, 0));
    expect(handles).toEqual([a.handle, a.handle]);
    firstRun.resolve();
    await waitFor(() => firstReturned, 5000, "the first run's return");
    const b = c.submit(fn, "B", { timeout: 15_000 });
    await waitFor(() => runs.length === 3, 5000, "B's first run");
    // B's ERROR gives B back with CANT_DO, which would take A's second run back as well: it must wait
    // for that run. Wait until the GRAB sent after B's assignment is answered, then look.
    const assignB = wt.packets.indexOf(seen(wt.packets, "in", ASSIGN)[2]!);
    await waitFor(() => seen(wt.packets.slice(assignB), "in", PacketType.NO_JOB).length > 0, 5000, "the GRAB after B answered");
    expect(seen(wt.packets.slice(assignB), "out", PacketType.CANT_DO)).toEqual([]);
    secondRun.resolve();
    expect(text(await a.result())).toBe("ok A");
    expect(text(await b.result())).toBe("ok B");
    expect(runs).toEqual(["A", "A", "B", "B"]);
    expect(seen(wt.packets, "out", PacketType.WORK_COMPLETE).map((p) => argText(p.packet, 0))).toEqual([a.handle, b.handle]);
    expect(logger.messages.filter((m) => m.includes("JOB_NOT_FOUND"))).toEqual([]);
  });

  it("with --job-retries=3 an always-ERROR job fails after exactly 3 attempts, spaced by back-off", async () => {
    const g = await res.gearmand({ args: ["--job-retries=3"] });
    const fn = fname("errN");
    const attempts: number[] = [];
    const w = res.worker({ servers: [g.address] });
    w.defineFunction(fn, () => {
      attempts.push(Date.now());
      return GearmanReturn.ERROR;
    });
    await w.start();
    const c = res.client({ servers: [g.address] });
    const t0 = Date.now();
    const err = await c.execute(fn, "x", { timeout: 15_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    await sleep(1500); // nothing more runs after the failure
    expect(attempts.length).toBe(3);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(100);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // Only gearmand writes a log (the embedded server has none to read).
    if (serverKind() === "gearmand") expect(g.log()).toMatch(/max retry/i);
    // the worker keeps serving the function afterwards
    let second = 0;
    w.defineFunction(fn, () => `ok${++second}`);
    await sleep(700);
    expect(text(await c.execute(fn, "y", { timeout: 5000 }))).toBe("ok1");
  });
});

describe("exactly one terminal packet", () => {
  it("sends after the return are ignored: one WORK_COMPLETE and nothing after it", async () => {
    const fn = fname("late");
    const wt = tapper();
    const logger = memoryLogger();
    const w = res.worker({ tap: wt.tap, logger });
    let lateJob: Job | undefined;
    w.defineFunction(fn, async (job) => {
      lateJob = job;
      await job.sendData("early");
      return "final";
    });
    await w.start();
    const c = res.client();
    const task = c.submit(fn, "x");
    const events: string[] = [];
    task.on("*", (e) => events.push(e.type));
    expect(text(await task.result())).toBe("final");
    await lateJob!.sendData("late data");
    lateJob!.sendStatus(1, 1);
    lateJob!.sendWarning("late warning");
    await sleep(100);
    const sent = wt.packets.filter((p) => p.direction === "out" && argText(p.packet, 0) === task.handle).map((p) => p.packet.type);
    expect(sent).toEqual([PacketType.WORK_DATA, PacketType.WORK_COMPLETE]);
    expect(events).toEqual(["created", "data", "complete"]);
    expect(logger.messages.filter((m) => m.includes("ended: ignored")).length).toBe(3);
  });
});

describe("timeout (kept by the worker, not gearmand's CAN_DO_TIMEOUT)", () => {
  it("aborts job.signal, sends nothing late, and a second worker completes the job once", async () => {
    const fn = fname("tmo");
    const wt = tapper();
    const started = gate();
    let abortedAt = 0;
    let startedAt = 0;
    const w1 = res.worker({ tap: wt.tap });
    w1.defineFunction(fn, async (job) => {
      startedAt = Date.now();
      job.signal.addEventListener("abort", () => (abortedAt = Date.now()));
      started.resolve();
      await sleep(2500); // ignores the signal on purpose
      await job.sendData("late");
      return "from w1";
    }, { timeout: 1000 });
    await w1.start();
    const c = res.client();
    const task = c.submit(fn, "x");
    const events: string[] = [];
    task.on("*", (e) => events.push(e.type));
    await started.promise;
    // gearmand does not wake sleeping workers when a job is given back: w2 finds it by polling.
    const w2 = res.worker({ pollInterval: 300 });
    let w2Runs = 0;
    w2.defineFunction(fn, () => {
      w2Runs++;
      return "from w2";
    });
    await w2.start();
    expect(text(await task.result())).toBe("from w2");
    expect(w2Runs).toBe(1);
    expect(abortedAt - startedAt).toBeGreaterThanOrEqual(950);
    expect(abortedAt - startedAt).toBeLessThan(1500);
    // wait for w1's handler to return: it must send nothing for the job
    await sleep(Math.max(0, startedAt + 2700 - Date.now()));
    // Registered with CAN_DO: gearmand 1.1.20's CAN_DO_TIMEOUT timer requeues freed jobs (random-schedule.test.ts).
    const regs = wt.packets.filter((p) => p.direction === "out" && [PacketType.CAN_DO, PacketType.CAN_DO_TIMEOUT].includes(p.packet.type as 1 | 23));
    // (the second CAN_DO registers the function again after the give-back's pause)
    expect(regs.map((p) => [p.packet.type, argText(p.packet, 0)])).toEqual([[PacketType.CAN_DO, fn], [PacketType.CAN_DO, fn]]);
    const sent = wt.packets.filter((p) => p.direction === "out" && argText(p.packet, 0) === task.handle);
    expect(sent).toEqual([]);
    expect(events).toEqual(["created", "complete"]);
  });

  it("with one worker, the second attempt completes the job and the client gets one result", async () => {
    const fn = fname("tmo1");
    const runs: { at: number; aborted: boolean }[] = [];
    const wt = tapper();
    const w = res.worker({ tap: wt.tap });
    w.defineFunction(fn, async (job) => {
      const run = { at: Date.now(), aborted: false };
      runs.push(run);
      if (runs.length === 1) {
        await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
        run.aborted = true;
        return "first (dropped)";
      }
      return "second";
    }, { timeout: 1000 });
    await w.start();
    const c = res.client();
    const task = c.submit(fn, "x", { timeout: 10_000 });
    const completes: string[] = [];
    task.on("complete", (e) => completes.push(text(e.data)));
    expect(text(await task.result())).toBe("second");
    await sleep(100);
    expect(completes).toEqual(["second"]);
    expect(runs.length).toBe(2);
    expect(runs[0]!.aborted).toBe(true);
    const terminals = wt.packets.filter((p) => p.direction === "out" && TERMINAL.includes(p.packet.type));
    expect(terminals.map((p) => text(p.packet.args[1] ?? new Uint8Array()))).toEqual(["second"]);
  });
});

describe("timeout with several jobs held", () => {
  it("both timed-out jobs run again and complete (the worker gives them back itself)", async () => {
    const g = await res.gearmand();
    const fn = fname("tmo2");
    const runs: string[] = [];
    const wt = tapper();
    const logger = memoryLogger();
    const w = res.worker({ servers: [g.address], concurrency: 2, tap: wt.tap, logger });
    w.defineFunction(fn, async (job) => {
      runs.push(job.text());
      if (runs.filter((r) => r === job.text()).length === 1) await sleep(1500);
      return `ok ${job.text()}`;
    }, { timeout: 1000 });
    await w.start();
    const c = res.client({ servers: [g.address] });
    const a = c.submit(fn, "A", { timeout: 8000 });
    await sleep(200);
    const b = c.submit(fn, "B", { timeout: 8000 });
    expect(text(await a.result())).toBe("ok A");
    expect(text(await b.result())).toBe("ok B");
    expect(runs.sort()).toEqual(["A", "A", "B", "B"]);
    // Each job came back exactly once and completed once; nothing the worker sent was refused, so
    // the worker's give-back (CANT_DO) requeued nothing twice.
    const assigned = seen(wt.packets, "in", ASSIGN).map((p) => argText(p.packet, 0));
    expect(assigned.sort()).toEqual([a.handle, a.handle, b.handle, b.handle].sort());
    expect(seen(wt.packets, "out", PacketType.WORK_COMPLETE).map((p) => argText(p.packet, 0)).sort()).toEqual([a.handle, b.handle].sort());
    expect(logger.messages.filter((m) => m.includes("JOB_NOT_FOUND"))).toEqual([]);
    if (serverKind() === "gearmand") {
      // No server timer was involved: the worker's CANT_DO gave both back.
      expect(g.log().match(/Worker timeout reached on job/g) ?? []).toEqual([]);
    }
  });
});

describe("context", () => {
  it("reaches every call unchanged (same object)", async () => {
    const fn = fname("ctx");
    const ctx = { name: "shared", hits: 0 };
    const seen: unknown[] = [];
    const w = res.worker({ concurrency: 3 });
    w.defineFunction<typeof ctx>(fn, (job) => {
      seen.push(job.context);
      job.context.hits++;
      return String(job.context.hits);
    }, { context: ctx });
    await w.start();
    const c = res.client();
    await Promise.all(Array.from({ length: 6 }, (_, i) => c.execute(fn, String(i))));
    expect(seen.length).toBe(6);
    for (const s of seen) expect(s).toBe(ctx);
    expect(ctx.hits).toBe(6);
    expect(ctx).toEqual({ name: "shared", hits: 6 });
  });
});

describe("timeout with a handler that ignores the signal", () => {
  it("drops the late result, runs the job again, and keeps working", async () => {
    const fn = fname("stray");
    const logger = memoryLogger();
    const wt = tapper();
    const w = res.worker({ tap: wt.tap, logger });
    let n = 0;
    w.defineFunction(fn, async (_job) => {
      n++;
      if (n === 1) {
        await sleep(1300); // past the 1000 ms timeout: gearmand requeued the job
        return "late";
      }
      return `run${n}`;
    }, { timeout: 1000 });
    await w.start();
    const c = res.client();
    expect(text(await c.execute(fn, "a", { timeout: 10_000 }))).toBe("run2");
    expect(text(await c.execute(fn, "b", { timeout: 5000 }))).toBe("run3");
    expect(wt.packets.filter((p) => p.direction === "out" && p.packet.type === PacketType.WORK_COMPLETE).map((p) => text(p.packet.args[1]!))).toEqual(["run2", "run3"]);
  });
});
