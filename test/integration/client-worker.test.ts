// Node: client and worker against the shared real gearmand (issue #2).
import { serverKind } from "../support/gearmand.ts";
import { afterEach, describe, expect, it } from "vitest";
import {
  AbortError, ClosedError, GearmanReturn, InvalidArgumentError, JobExceptionError, JobFailedError, PacketType,
  type TaskEvent, TimeoutError, argText,
} from "../../src/node.ts";
import { fname, gate, Resources, sleep, tapper, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

describe("submit kinds and priorities", () => {
  it("sends the right SUBMIT packet for every kind and priority, and every job runs", async () => {
    const fn = fname("kinds");
    const seen: string[] = [];
    const w = res.worker({ concurrency: 4 });
    w.defineFunction(fn, (job) => {
      seen.push(job.text());
      return `r:${job.text()}`;
    });
    await w.start();
    const t = tapper();
    const c = res.client({ tap: t.tap });

    for (const p of ["high", "normal", "low"] as const) {
      expect(text(await c.submit(fn, `fg-${p}`, { priority: p }).result())).toBe(`r:fg-${p}`);
      expect(text(await c.execute(fn, `ex-${p}`, { priority: p }))).toBe(`r:ex-${p}`);
      const h = await c.submitBackground(fn, `bg-${p}`, { priority: p });
      expect(h).toMatch(/^H:/);
    }
    await c.submitAt(fn, "epoch", new Date(Date.now() - 1000));
    await waitFor(() => seen.length === 10, 5000, "all jobs ran");
    const types = t.packets.filter((x) => x.direction === "out").map((x) => x.packet.type).filter((ty) => ty !== PacketType.OPTION_REQ);
    expect(types).toEqual([
      PacketType.SUBMIT_JOB_HIGH, PacketType.SUBMIT_JOB_HIGH, PacketType.SUBMIT_JOB_HIGH_BG,
      PacketType.SUBMIT_JOB, PacketType.SUBMIT_JOB, PacketType.SUBMIT_JOB_BG,
      PacketType.SUBMIT_JOB_LOW, PacketType.SUBMIT_JOB_LOW, PacketType.SUBMIT_JOB_LOW_BG,
      PacketType.SUBMIT_JOB_EPOCH,
    ]);
    expect(seen.sort()).toEqual(["bg-high", "bg-low", "bg-normal", "epoch", "ex-high", "ex-low", "ex-normal", "fg-high", "fg-low", "fg-normal"]);
  });

  it("runs queued jobs as high1, high2, normal1, low1, low2 on a concurrency-1 worker", async () => {
    const fn = fname("prio");
    const c = res.client();
    const order = ["low1", "normal1", "high1", "low2", "high2"];
    const prio = (name: string) => (name.startsWith("low") ? "low" : name.startsWith("high") ? "high" : "normal") as "low" | "normal" | "high";
    // Foreground for half of them, background for the rest: both kinds share the queues.
    const tasks = order.map((name, i) => (i % 2 === 0 ? c.submit(fn, name, { priority: prio(name) }) : undefined));
    const bg = order.map((name, i) => (i % 2 === 1 ? c.submitBackground(fn, name, { priority: prio(name) }) : undefined));
    await Promise.all([...tasks.map((t) => t?.created()), ...bg]);

    const ran: string[] = [];
    const w = res.worker({ concurrency: 1 });
    w.defineFunction(fn, async (job) => {
      ran.push(job.text());
      await sleep(5);
      return job.text();
    });
    await w.start();
    await waitFor(() => ran.length === 5, 5000, "five jobs");
    expect(ran).toEqual(["high1", "high2", "normal1", "low1", "low2"]);
    for (const [i, t] of tasks.entries()) if (t) expect(text(await t.result())).toBe(order[i]);
  });
});

describe("status", () => {
  it("reports known/running/numerator/denominator of a background job while the worker sends status", async () => {
    const fn = fname("bgstatus");
    const c = res.client();
    const handle = await c.submitBackground(fn, "x");
    expect(await c.getStatus(handle)).toEqual({ handle, known: true, running: false, numerator: 0, denominator: 0 });

    const release = gate();
    const w = res.worker();
    w.defineFunction(fn, async (job) => {
      job.sendStatus(3, 10);
      await release.promise;
      job.sendStatus(9, 10);
      await release.promise;
    });
    await w.start();
    const running = await waitFor(async () => {
      const s = await c.getStatus(handle);
      return s.running && s.numerator === 3 ? s : undefined;
    }, 5000, "running status");
    expect(running).toEqual({ handle, known: true, running: true, numerator: 3, denominator: 10 });
    release.resolve();
    await waitFor(async () => !(await c.getStatus(handle)).known, 5000, "job gone");
    expect(await c.getStatus(handle)).toEqual({ handle, known: false, running: false, numerator: 0, denominator: 0 });
  });

  it("answers GET_STATUS_UNIQUE with the waiting count and progress", async () => {
    const fn = fname("ustatus");
    const unique = fname("u");
    const c1 = res.client();
    const c2 = res.client();
    const a = c1.submit(fn, "first", { unique });
    const b = c2.submit(fn, "second", { unique });
    await Promise.all([a.created(), b.created()]);
    const q = await c1.getStatusUnique(unique);
    expect(q).toEqual({ unique, known: true, running: false, numerator: 0, denominator: 0, waiting: 2 });

    const release = gate();
    const w = res.worker();
    w.defineFunction(fn, async (job) => {
      job.sendStatus(1, 2);
      await release.promise;
      return "done";
    });
    await w.start();
    const r = await waitFor(async () => {
      const s = await c2.getStatusUnique(unique);
      return s.running && s.numerator === 1 ? s : undefined;
    }, 5000, "running unique status");
    expect(r).toEqual({ unique, known: true, running: true, numerator: 1, denominator: 2, waiting: 2 });
    release.resolve();
    expect(text(await a.result())).toBe("done");
    expect(text(await b.result())).toBe("done");
    expect((await c1.getStatusUnique(unique)).known).toBe(false);
    expect((await c1.getStatusUnique(fname("never"))).known).toBe(false);
  });
});

describe("coalescing", () => {
  it("two foreground submits with one unique share a handle, the job runs once and both get the result", async () => {
    const fn = fname("coal");
    const unique = fname("same");
    const c1 = res.client();
    const c2 = res.client();
    const a = c1.submit(fn, "payload-a", { unique });
    const b = c2.submit(fn, "payload-b", { unique });
    const [ha, hb] = await Promise.all([a.created(), b.created()]);
    expect(hb).toBe(ha);
    expect((await c1.getStatusUnique(unique)).waiting).toBe(2);

    const workloads: string[] = [];
    const w = res.worker();
    w.defineFunction(fn, async (job) => {
      workloads.push(job.text());
      await job.sendData("d;");
      return `done:${job.text()}`;
    });
    await w.start();
    expect(text(await a.result())).toBe("done:payload-a");
    expect(text(await b.result())).toBe("done:payload-a");
    expect(workloads).toEqual(["payload-a"]);
  });

  it("two coalesced submits on ONE connection each see every packet once", async () => {
    const fn = fname("coal1");
    const unique = fname("same");
    const c = res.client();
    const aEvents: string[] = [];
    const bEvents: string[] = [];
    const a = c.submit(fn, "x", { unique });
    const b = c.submit(fn, "x", { unique });
    a.on("*", (e) => aEvents.push(e.type));
    b.on("*", (e) => bEvents.push(e.type));
    expect(await b.created()).toBe(await a.created());
    const w = res.worker();
    w.defineFunction(fn, async (job) => {
      await job.sendData("d1");
      job.sendWarning("w1");
      return "r";
    });
    await w.start();
    expect(text(await a.result())).toBe("r");
    expect(text(await b.result())).toBe("r");
    expect(aEvents).toEqual(["created", "data", "warning", "complete"]);
    expect(bEvents).toEqual(["created", "data", "warning", "complete"]);
    // execute() gives the same concatenation as gearman_client_do
    const e1 = c.execute(fn, "y", { unique: `${unique}-2` });
    const e2 = c.execute(fn, "y", { unique: `${unique}-2` });
    expect(text(await e1)).toBe("d1r");
    expect(text(await e2)).toBe("d1r");
  });
});

describe("coalescing edge cases", () => {
  it("a coalesced task that times out locally does not disturb its twin on the same connection", async () => {
    const fn = fname("coalto");
    const unique = fname("same");
    const c = res.client();
    const short = c.submit(fn, "x", { unique, timeout: 100 });
    const long = c.submit(fn, "x", { unique });
    const data: string[] = [];
    long.on("data", (e) => data.push(text(e.data)));
    await expect(short.result()).rejects.toBeInstanceOf(TimeoutError);
    const w = res.worker();
    w.defineFunction(fn, async (job) => {
      await job.sendData("d1");
      await job.sendData("d2");
      return "r";
    });
    await w.start();
    expect(text(await long.result())).toBe("r");
    expect(data).toEqual(["d1", "d2"]);
    // a later job with the same unique on the same connection starts clean
    const again = c.execute(fn, "y", { unique });
    expect(text(await again)).toBe("d1d2r");
  });

  it("a background submit with the same unique joins the job without adding a listener", async () => {
    const fn = fname("coalbg");
    const unique = fname("same");
    const c = res.client();
    const fg = c.submit(fn, "x", { unique });
    const h = await fg.created();
    expect(await c.submitBackground(fn, "x", { unique })).toBe(h);
    const data: string[] = [];
    fg.on("data", (e) => data.push(text(e.data)));
    const w = res.worker();
    let runs = 0;
    w.defineFunction(fn, async (job) => {
      runs++;
      await job.sendData("once");
      return "r";
    });
    await w.start();
    expect(text(await fg.result())).toBe("r");
    expect(data).toEqual(["once"]);
    expect(runs).toBe(1);
  });
});

describe("worker lifecycle", () => {
  it("stop() lets running jobs finish and takes no new ones", async () => {
    const fn = fname("graceful");
    const started = gate();
    const w = res.worker({ concurrency: 2 });
    w.defineFunction(fn, async (job) => {
      if (job.text() === "slow") {
        started.resolve();
        await sleep(300);
      }
      return `done ${job.text()}`;
    });
    await w.start();
    const c = res.client();
    const slow = c.submit(fn, "slow");
    await started.promise;
    const stopping = w.stop();
    expect(text(await slow.result())).toBe("done slow");
    await stopping;
    const later = c.submit(fn, "later");
    await later.created();
    await sleep(200);
    expect(later.done).toBe(false);
    const w2 = res.worker();
    w2.defineFunction(fn, () => "w2");
    await w2.start();
    expect(text(await later.result())).toBe("w2");
  });

  it("removeFunction gives running jobs of it back to gearmand (their signal aborts) and stops taking them", async () => {
    const fn = fname("remove");
    const other = fname("keep");
    const started = gate();
    let aborted = false;
    const w = res.worker({ concurrency: 2 });
    w.defineFunction(fn, async (job) => {
      started.resolve();
      await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
      aborted = true;
      return "dropped";
    });
    w.defineFunction(other, () => "kept");
    await w.start();
    const c = res.client();
    const task = c.submit(fn, "x");
    await started.promise;
    w.removeFunction(fn);
    await waitFor(() => aborted, 2000, "abort");
    expect(text(await c.execute(other, "y"))).toBe("kept");
    const w2 = res.worker();
    w2.defineFunction(fn, () => "taken over");
    await w2.start();
    expect(text(await task.result())).toBe("taken over");
  });

  it("a small requestWindow still gets every task through, in order", async () => {
    const fn = fname("window");
    const w = res.worker({ concurrency: 4 });
    w.defineFunction(fn, (job) => job.text());
    await w.start();
    const t = tapper();
    const c = res.client({ requestWindow: 4, tap: t.tap });
    const tasks = Array.from({ length: 200 }, (_, i) => c.submit(fn, String(i), { priority: i % 2 ? "low" : "high" }));
    const out = await Promise.all(tasks.map((x) => x.result()));
    expect(out.map(text)).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    // never more than 4 submits awaiting JOB_CREATED
    let open = 0;
    let max = 0;
    for (const p of t.packets) {
      if (p.direction === "out" && p.packet.type !== PacketType.OPTION_REQ) max = Math.max(max, ++open);
      if (p.direction === "in" && p.packet.type === PacketType.JOB_CREATED) open--;
    }
    expect(max).toBeLessThanOrEqual(4);
  });
});

describe("streaming", () => {
  async function streamingWorker(fn: string): Promise<void> {
    const w = res.worker();
    w.defineFunction(fn, async (job) => {
      await job.sendData("a");
      job.sendStatus(1, 3);
      job.sendWarning("careful");
      await job.sendData(new Uint8Array([0, 255, 0]));
      job.sendStatus(2, 3);
      return "end";
    });
    await w.start();
  }
  const expected = (events: TaskEvent[]) =>
    events.map((e) => {
      switch (e.type) {
        case "created": return "created";
        case "data": return `data:${[...e.data].join(",")}`;
        case "warning": return `warning:${text(e.data)}`;
        case "status": return `status:${e.numerator}/${e.denominator}`;
        case "complete": return `complete:${text(e.data)}`;
        default: return e.type;
      }
    });
  const want = ["created", "data:97", "status:1/3", "warning:careful", "data:0,255,0", "status:2/3", "complete:end"];

  it("delivers data, warning and status by callback", async () => {
    const fn = fname("stream_cb");
    await streamingWorker(fn);
    const c = res.client();
    const task = c.submit(fn, "x");
    const all: TaskEvent[] = [];
    const statuses: string[] = [];
    task.on("*", (e) => all.push(e));
    task.on("status", (e) => statuses.push(`${e.numerator}/${e.denominator}`));
    expect(text(await task.result())).toBe("end");
    expect(expected(all)).toEqual(want);
    expect(statuses).toEqual(["1/3", "2/3"]);
  });

  it("delivers the same events by for-await, ending after the terminal event", async () => {
    const fn = fname("stream_it");
    await streamingWorker(fn);
    const c = res.client();
    const task = c.submit(fn, "x");
    const all: TaskEvent[] = [];
    for await (const e of task) all.push(e);
    expect(expected(all)).toEqual(want);
    expect(task.done).toBe(true);
  });

  it("execute() concatenates every WORK_DATA and the WORK_COMPLETE payload", async () => {
    const fn = fname("exec");
    await streamingWorker(fn);
    const c = res.client();
    expect([...(await c.execute(fn, "x"))]).toEqual([97, 0, 255, 0, ..."end"].map((v) => (typeof v === "string" ? v.charCodeAt(0) : v)));
    // result() is only the WORK_COMPLETE payload
    expect(text(await c.submit(fn, "x").result())).toBe("end");
  });
});

describe("failures and exceptions", () => {
  it("FAIL after warnings rejects with JobFailedError carrying the warnings", async () => {
    const fn = fname("fail");
    const w = res.worker();
    w.defineFunction(fn, (job) => {
      job.sendWarning("w1");
      job.sendWarning("w2");
      return GearmanReturn.FAIL;
    });
    await w.start();
    const c = res.client();
    const task = c.submit(fn, "x");
    const err = await task.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).warnings.map(text)).toEqual(["w1", "w2"]);
    expect((err as JobFailedError).handle).toBe(task.handle);
    await expect(c.execute(fn, "x")).rejects.toBeInstanceOf(JobFailedError);
  });

  it("a thrown error with exceptions:true reaches the client as JobExceptionError with the text", async () => {
    const fn = fname("exc");
    const w = res.worker();
    w.defineFunction(fn, () => {
      throw new Error("kaboom");
    }, { exceptions: true });
    await w.start();
    const c = res.client();
    const events: string[] = [];
    const task = c.submit(fn, "x");
    task.on("*", (e) => events.push(e.type));
    const err = await task.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobExceptionError);
    expect((err as JobExceptionError).text).toBe("kaboom");
    expect(events).toEqual(["created", "exception"]);
  });

  it("a thrown error without exceptions:true becomes a warning then JobFailedError", async () => {
    const fn = fname("thr");
    const w = res.worker();
    w.defineFunction(fn, () => {
      throw new Error("plain boom");
    });
    await w.start();
    const c = res.client();
    const events: string[] = [];
    const task = c.submit(fn, "x");
    task.on("*", (e) => events.push(e.type));
    const err = await task.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).warnings.map(text)).toEqual(["plain boom"]);
    expect(events).toEqual(["created", "warning", "fail"]);
  });

  it("a client with exceptions:false gets JobFailedError (WORK_FAIL with gearmand's trailing NUL), not a hang", async () => {
    const fn = fname("excnul");
    const w = res.worker();
    w.defineFunction(fn, () => {
      throw new Error("hidden");
    }, { exceptions: true });
    await w.start();
    const t = tapper();
    const c = res.client({ exceptions: false, tap: t.tap });
    const task = c.submit(fn, "x");
    const err = await task.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).handle).toBe(task.handle);
    const fail = t.packets.find((p) => p.direction === "in" && p.packet.type === PacketType.WORK_FAIL);
    // gearmand 1.1.20 appends a NUL to the handle; the embedded server does not (README, server differences).
    expect(argText(fail!.packet, 0)).toBe(serverKind() === "embedded" ? task.handle : `${task.handle}\0`);
    expect(t.packets.some((p) => p.packet.type === PacketType.OPTION_REQ)).toBe(false);
  });
});

describe("volume", () => {
  it("1,000 pipelined tasks on one connection all complete with their own results", async () => {
    const fn = fname("pipe");
    const w = res.worker({ concurrency: 8 });
    w.defineFunction(fn, (job) => `r${job.text()}`);
    await w.start();
    const t = tapper();
    const c = res.client({ tap: t.tap });
    const tasks = Array.from({ length: 1000 }, (_, i) => c.submit(fn, String(i)));
    const results = await Promise.all(tasks.map((task) => task.result()));
    results.forEach((r, i) => expect(text(r)).toBe(`r${i}`));
    expect(new Set(tasks.map((task) => task.handle)).size).toBe(1000);
    expect(new Set(t.packets.map((p) => p.server)).size).toBe(1);
    expect(t.packets.filter((p) => p.direction === "in" && p.packet.type === PacketType.JOB_CREATED).length).toBe(1000);
  });

  it("a 16 MiB payload with every byte value round-trips intact, both ways", async () => {
    const fn = fname("big");
    const size = 16 * 1024 * 1024;
    const payload = new Uint8Array(size);
    let x = 12345;
    for (let i = 0; i < size; i++) {
      // every byte value, in a pseudo-random order so shifted or reordered chunks are caught
      x = (x * 1103515245 + 12345) >>> 0;
      payload[i] = i < 256 ? i : x >>> 24;
    }
    let received: Uint8Array | undefined;
    const w = res.worker();
    w.defineFunction(fn, (job) => {
      received = job.workload;
      return job.workload;
    });
    await w.start();
    const c = res.client();
    const out = await c.submit(fn, payload).result();
    expect(received!.length).toBe(size);
    expect(Buffer.compare(Buffer.from(received!), Buffer.from(payload))).toBe(0);
    expect(out.length).toBe(size);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(payload))).toBe(0);
  }, 60_000);
});

describe("worker concurrency", () => {
  it("runs exactly N jobs at once, never more", async () => {
    const fn = fname("conc");
    const N = 4;
    let now = 0;
    let max = 0;
    const w = res.worker({ concurrency: N });
    w.defineFunction(fn, async (job) => {
      now++;
      max = Math.max(max, now);
      await sleep(100);
      now--;
      return job.text();
    });
    await w.start();
    const c = res.client();
    const started = Date.now();
    const out = await Promise.all(Array.from({ length: 16 }, (_, i) => c.execute(fn, String(i))));
    expect(out.map(text)).toEqual(Array.from({ length: 16 }, (_, i) => String(i)));
    expect(max).toBe(N);
    // 16 jobs of 100 ms at 4 at a time take ≥ 400 ms, and far less than 16 × 100 ms
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("an idle worker sends at most one GRAB per free slot per job: a job that ends while GRABs are out grabs nothing", async () => {
    const fn = fname("grabs");
    const t = tapper();
    const w = res.worker({ concurrency: 4, tap: t.tap });
    w.defineFunction(fn, (job) => job.text());
    await w.start();
    const c = res.client();
    const sent = (type: number): number => t.packets.filter((p) => p.direction === "out" && p.packet.type === type).length;
    await waitFor(() => sent(PacketType.PRE_SLEEP) > 0);
    const before = sent(PacketType.GRAB_JOB_ALL);
    const JOBS = 20;
    for (let i = 0; i < JOBS; i++) expect(text(await c.execute(fn, String(i)))).toBe(String(i));
    await waitFor(() => sent(PacketType.PRE_SLEEP) > JOBS / 2);
    // Each job wakes the sleeping worker, which grabs once per free slot (4); the job's own end, with three
    // GRABs still unanswered, adds none (a fifth GRAB per job would only fetch one more NO_JOB).
    const grabs = sent(PacketType.GRAB_JOB_ALL) - before;
    expect(grabs).toBeGreaterThanOrEqual(JOBS);
    expect(grabs).toBeLessThanOrEqual(JOBS * 4);
  });
});

describe("validation before sending", () => {
  it("throws InvalidArgumentError for an empty name, a NUL, a 513-byte name and a 64-byte unique, sending nothing", async () => {
    const t = tapper();
    const c = res.client({ tap: t.tap });
    const bad: [string, { unique?: string }][] = [
      ["", {}],
      ["a\0b", {}],
      ["x".repeat(513), {}],
      ["ok", { unique: "u".repeat(64) }],
      ["ok", { unique: "u\0v" }],
    ];
    for (const [fn, o] of bad) {
      expect(() => c.submit(fn, "x", o)).toThrow(InvalidArgumentError);
      await expect(c.execute(fn, "x", o)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(c.submitBackground(fn, "x", o)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(c.submitAt(fn, "x", new Date(), o)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(() => c.submitReduce("ok", "", "x")).toThrow(InvalidArgumentError);
    await expect(c.getStatusUnique("u".repeat(64))).rejects.toBeInstanceOf(InvalidArgumentError);
    const w = res.worker();
    expect(() => w.defineFunction("", () => {})).toThrow(InvalidArgumentError);
    expect(() => w.defineFunction("a\0", () => {})).toThrow(InvalidArgumentError);
    expect(() => w.defineFunction("y".repeat(513), () => {})).toThrow(InvalidArgumentError);
    await sleep(20);
    expect(t.packets).toEqual([]);
  });

  it("accepts the limits: a 512-byte name and a 63-byte unique", async () => {
    const fn = `${fname("lim")}_`.padEnd(512, "z");
    const w = res.worker();
    w.defineFunction(fn, (job) => job.unique);
    await w.start();
    const c = res.client();
    const unique = "q".repeat(63);
    expect(text(await c.execute(fn, "x", { unique }))).toBe(unique);
    expect(Buffer.byteLength(fn)).toBe(512);
  });
});

describe("submitAt (SUBMIT_JOB_EPOCH)", () => {
  it("does not hand the job out before its time, and runs it after (woken by another job)", async () => {
    const fn = fname("epoch");
    const ran: { what: string; at: number }[] = [];
    const w = res.worker();
    w.defineFunction(fn, (job) => void ran.push({ what: job.text(), at: Date.now() }));
    await w.start();
    const c = res.client();
    const when = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000);
    const handle = await c.submitAt(fn, "scheduled", when);
    expect(handle).toMatch(/^H:/);
    // An unrelated job before the time runs alone: the epoch job is held back.
    await c.execute(fn, "early");
    expect(ran.map((r) => r.what)).toEqual(["early"]);
    expect((await c.getStatus(handle)).known).toBe(true);
    // gearmand has no timer for epoch jobs (protocol.md §3.6): once the time passed, the next job
    // that wakes the worker lets it take the epoch job too.
    await sleep(Math.max(0, when.getTime() - Date.now()) + 200);
    await c.execute(fn, "nudge");
    await waitFor(() => ran.length === 3, 3000, "epoch job");
    const scheduled = ran.find((r) => r.what === "scheduled")!;
    expect(scheduled.at).toBeGreaterThanOrEqual(when.getTime());
    expect((await c.getStatus(handle)).known).toBe(false);
  });

  it("an idle worker picks the due epoch job up by itself (pollInterval), with nothing else submitted", async () => {
    const fn = fname("epoch2");
    const ran: number[] = [];
    const w = res.worker({ pollInterval: 250 });
    w.defineFunction(fn, () => void ran.push(Date.now()));
    await w.start();
    const c = res.client();
    const when = new Date(Math.ceil((Date.now() + 1200) / 1000) * 1000);
    await c.submitAt(fn, "scheduled", when);
    await waitFor(() => ran.length === 1, when.getTime() - Date.now() + 2000, "epoch job");
    expect(ran[0]!).toBeGreaterThanOrEqual(when.getTime());
    expect(ran[0]! - when.getTime()).toBeLessThan(1000);
  });
});

describe("echo, timeout, abort, close", () => {
  it("echo returns identical bytes", async () => {
    const c = res.client();
    const bytes = new Uint8Array([0, 1, 2, 0, 255, 0x0d, 0x0a]);
    expect([...(await c.echo(bytes))]).toEqual([...bytes]);
    expect(text(await c.echo("héllo"))).toBe("héllo");
    expect((await c.echo("")).length).toBe(0);
  });

  it("a task timeout rejects with TimeoutError; the client stays usable", async () => {
    const fn = fname("slow");
    const release = gate();
    const w = res.worker({ concurrency: 2 });
    w.defineFunction(fn, async (job) => {
      if (job.text() === "hang") await release.promise;
      return "ok";
    });
    await w.start();
    const c = res.client();
    const t0 = Date.now();
    const err = await c.submit(fn, "hang", { timeout: 300 }).result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(text(await c.execute(fn, "fast", { timeout: 2000 }))).toBe("ok");
    release.resolve();
  });

  it("an AbortSignal rejects the task with AbortError (also when already aborted)", async () => {
    const fn = fname("abort");
    const c = res.client();
    const ac = new AbortController();
    const task = c.submit(fn, "x", { signal: ac.signal });
    await task.created();
    ac.abort("stop it");
    const err = await task.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toBe("stop it");
    const pre = new AbortController();
    pre.abort();
    await expect(c.execute(fn, "y", { signal: pre.signal })).rejects.toBeInstanceOf(AbortError);
    await expect(c.echo("still alive")).resolves.toBeDefined();
  });

  it("close() rejects pending tasks with ClosedError, and later submits too", async () => {
    const fn = fname("closing");
    const c = res.client();
    const queued = c.submit(fn, "never runs");
    await queued.created();
    const fresh = c.submit(fn, "just sent");
    const closing = c.close();
    await expect(queued.result()).rejects.toBeInstanceOf(ClosedError);
    await expect(fresh.result()).rejects.toBeInstanceOf(ClosedError);
    await closing;
    await expect(c.execute(fn, "after")).rejects.toBeInstanceOf(ClosedError);
    await expect(c.submitBackground(fn, "after")).rejects.toBeInstanceOf(ClosedError);
  });

  it("close() right after a background submit and a status query: nothing is written after the close, the query gets ClosedError", async () => {
    const fn = fname("closerace");
    const c = res.client();
    await c.echo("warm");
    const bg = c.submitBackground(fn, "x").catch((e: unknown) => e);
    // The query waits a turn for its connection; close() comes first, and nothing may be written after it (that
    // write failed the connection with "write after end" and took the submit's JOB_CREATED with it).
    const status = c.getStatusUnique("u1").catch((e: unknown) => e);
    await c.close();
    expect(await status).toBeInstanceOf(ClosedError);
    // gearmand queued the submit; whether its JOB_CREATED still arrives depends on gearmand (it may drop replies
    // once it reads the end of the stream), so the submit has a handle or a ClosedError, never another error.
    const outcome = await bg;
    if (typeof outcome !== "string") expect(outcome).toBeInstanceOf(ClosedError);
    else expect(outcome).toMatch(/^H:/);
    const admin = res.admin();
    await waitFor(async () => (await admin.status()).find((f) => f.name === fn)?.total === 1, 3000, "gearmand queued the job once");
  });
});

describe("bad input and odd timing on the client", () => {
  it("refuses a bad priority, timeout, date, payload type, oversized payload and a 65-byte reducer with InvalidArgumentError, sending nothing", async () => {
    const t = tapper();
    const c = res.client({ tap: t.tap, maxPacketSize: 1024 });
    const fn = fname("badargs");
    expect(() => c.submit(fn, "x", { priority: "urgent" as never })).toThrow(InvalidArgumentError);
    expect(() => c.submit(fn, "x", { timeout: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => c.submit(fn, "x", { timeout: -5 })).toThrow(InvalidArgumentError);
    expect(() => c.submit(fn, "x", { timeout: 0 })).toThrow(InvalidArgumentError);
    await expect(c.submitAt(fn, "x", new Date("garbage"))).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => c.submit(fn, new ArrayBuffer(4) as never)).toThrow(InvalidArgumentError);
    expect(() => c.submit(fn, 42 as never)).toThrow(InvalidArgumentError);
    await expect(c.submit(fn, new Uint8Array(1025)).result()).rejects.toThrow(/over maxPacketSize/);
    await expect(c.submitReduceBackground(fn, "r".repeat(65), "x")).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await c.submitReduceBackground(fn, "r".repeat(64), "x")).toMatch(/^H:/);
    const submits = t.packets.filter((p) => p.direction === "out" && p.packet.type !== PacketType.OPTION_REQ);
    expect(submits.map((p) => p.packet.type)).toEqual([PacketType.SUBMIT_REDUCE_JOB_BACKGROUND]);
  });

  it("maxPacketSize holds the whole packet body (name, unique, NULs, payload), as a bridge or worker with that limit reads it", async () => {
    const fn = fname("bodysize");
    const w = res.worker();
    w.defineFunction(fn, (job) => String(job.workload.length));
    await w.start();
    const c = res.client({ maxPacketSize: 1024 });
    const room = 1024 - fn.length - "u1".length - 2;
    expect(text(await c.execute(fn, new Uint8Array(room), { unique: "u1", timeout: 5000 }))).toBe(String(room));
    const over = c.submit(fn, new Uint8Array(room + 1), { unique: "u1" }).result();
    await expect(over).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(over).rejects.toThrow(/packet is 1025 bytes, over maxPacketSize/);
    // An echo over the limit would come back over it too, and close the connection at the header: refused instead.
    await expect(c.echo(new Uint8Array(1025))).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(text(await c.echo("still connected"))).toBe("still connected");
  });

  it("a worker's result or data chunk over its maxPacketSize fails the job once with the reason, instead of a dropped connection and requeues", async () => {
    const fn = fname("bigresult");
    let runs = 0;
    let chunkError: unknown;
    const w = res.worker({ maxPacketSize: 1024 });
    w.defineFunction(fn, async (job) => {
      runs++;
      if (job.text() === "data") {
        chunkError = await job.sendData(new Uint8Array(2000)).catch((e: unknown) => e);
        return "after the refused chunk";
      }
      return new Uint8Array(2000);
    });
    await w.start();
    const c = res.client();
    const err = await c.execute(fn, "result", { timeout: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).message).toMatch(/over maxPacketSize/);
    expect(runs).toBe(1);
    expect(text(await c.execute(fn, "data", { timeout: 5000 }))).toBe("after the refused chunk");
    expect(chunkError).toBeInstanceOf(InvalidArgumentError);
  });

  it("an already-aborted signal ends the task without sending it", async () => {
    const fn = fname("preabort");
    let runs = 0;
    const w = res.worker();
    w.defineFunction(fn, () => String(++runs));
    await w.start();
    const c = res.client();
    await c.echo("warm");
    const ac = new AbortController();
    ac.abort();
    await expect(c.execute(fn, "a", { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    await expect(c.submitBackground(fn, "b", { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    expect(text(await c.execute(fn, "d"))).toBe("1");
  });

  it("a background submit with a signal or timeout lets go of both once the job is queued", async () => {
    const fn = fname("bgclean");
    const c = res.client();
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    const remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...a: Parameters<typeof add>) => (listeners++, add(...a))) as typeof add;
    ac.signal.removeEventListener = ((...a: Parameters<typeof remove>) => (listeners--, remove(...a))) as typeof remove;
    for (let i = 0; i < 20; i++) await c.submitBackground(fn, "x", { signal: ac.signal, timeout: 60_000 });
    expect(listeners).toBe(0);
    // Aborting now changes nothing: every submit already resolved with its handle.
    ac.abort();
  });

  it("a listener that throws does not cut the packet stream: every other task gets its own result", async () => {
    const fn = fname("throwing");
    const w = res.worker({ concurrency: 4 });
    w.defineFunction(fn, async (job) => {
      job.sendStatus(1, 2);
      return `r:${job.text()}`;
    });
    await w.start();
    const c = res.client();
    const thrown: unknown[] = [];
    const onUncaught = (e: unknown): void => void thrown.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      const tasks = Array.from({ length: 20 }, (_, i) => c.submit(fn, `t${i}`));
      tasks[3]!.on("created", () => {
        throw new Error("listener bug");
      });
      tasks[5]!.on("status", () => {
        throw new Error("listener bug");
      });
      const results = await Promise.all(tasks.map((t) => t.result()));
      expect(results.map(text)).toEqual(tasks.map((_, i) => `r:t${i}`));
      await waitFor(() => thrown.length === 2, 2000, "both listener errors reported");
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  });

  it("for await over a task throws the TimeoutError or AbortError that ended it", async () => {
    const fn = fname("iterthrow");
    const c = res.client();
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of c.submit(fn, "x", { timeout: 200 })) seen.push(e.type);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["created"]);
    expect(err).toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const task = c.submit(fn, "y", { signal: ac.signal });
    await task.created();
    ac.abort();
    await expect((async () => {
      for await (const _ of task) void _;
    })()).rejects.toBeInstanceOf(AbortError);
  });

  it("close() rejects a task waiting out its resubmit back-off at once with ClosedError", async () => {
    const g = await res.gearmand({ args: ["--threads=0"] });
    const fn = fname("resubclose");
    const c = res.client({ servers: [g.address], resubmitOnReconnect: true, reconnectDelay: 2000, maxReconnectDelay: 2000 });
    const task = c.submit(fn, "x", { unique: "resub-close" });
    await task.created();
    await g.stop();
    await sleep(100);
    const t0 = Date.now();
    await c.close();
    await expect(task.result()).rejects.toBeInstanceOf(ClosedError);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
