// Node: how the SDK calls code its users supply (logger methods, the `tap` option, Task listeners and `for await`
// consumers, job handlers, job.signal listeners, partitioned() partition/aggregate, connectors, RequestOptions
// signals) when that code binds `this`, throws, rejects, hangs or calls back into the SDK. Each case runs against a
// real gearmand (startGearmand) with process listeners counting uncaught exceptions and unhandled rejections.
// Comments marked "before the fix" say what the SDK did before these tests were written.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  AbortError, ClosedError, ConnectionError, type Connector, GearmanReturn, type Job, JobFailedError, type Logger, type Packet,
  PacketType, partitioned, type Task, tcpConnector, type Worker,
} from "../../src/node.ts";
import { freePort, type Gearmand, startGearmand } from "../support/gearmand.ts";
import { ThisLogger } from "../support/this-logger.ts";
import { fname, gate, memoryLogger, Resources, sleep, text, waitFor } from "./helpers.ts";

let g: Gearmand;
beforeAll(async () => {
  g = await startGearmand();
});
afterAll(async () => {
  await g?.stop();
});

const res = new Resources();
/** Uncaught exceptions and unhandled rejections seen while a test ran (our listeners also keep vitest quiet). */
let uncaught: unknown[] = [];
let unhandled: unknown[] = [];
const onUncaught = (e: unknown): void => void uncaught.push(e);
const onUnhandled = (e: unknown): void => void unhandled.push(e);
beforeEach(() => {
  uncaught = [];
  unhandled = [];
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUnhandled);
});
afterEach(async () => {
  await res.cleanup();
  // Late reports of this test's callbacks land here rather than in the next test.
  await sleep(20);
  process.off("uncaughtException", onUncaught);
  process.off("unhandledRejection", onUnhandled);
});

const TIMEOUT = Symbol("timeout");
/** What `p` settles with within `ms`: its value, `{ error }`, or TIMEOUT. Never throws, never outlives `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | { error: unknown } | typeof TIMEOUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const out = await Promise.race([
    p.then((v) => v, (error: unknown) => ({ error })),
    new Promise<typeof TIMEOUT>((r) => (timer = setTimeout(() => r(TIMEOUT), ms))),
  ]);
  clearTimeout(timer);
  return out;
}

function client(options: Parameters<Resources["client"]>[0] = {}) {
  return res.client({ servers: [g.address], ...options });
}
function worker(options: Parameters<Resources["worker"]>[0] = {}): Worker {
  return res.worker({ servers: [g.address], ...options });
}
/** A started worker where `fn` answers `r:<workload>`. */
async function echoWorker(fn: string, options: Parameters<Resources["worker"]>[0] = {}): Promise<Worker> {
  const w = worker(options);
  w.defineFunction(fn, (job) => `r:${job.text()}`);
  await w.start();
  return w;
}
function messages(errors: unknown[]): string[] {
  return errors.map((e) => (e instanceof Error ? e.message : String(e)));
}

/** A logger whose `levels` throw (a logger writing to a closed stream, or serialising a cyclic detail). */
function throwingLogger(...levels: ("debug" | "warn" | "error")[]): Logger & { calls: string[] } {
  const calls: string[] = [];
  const make = (level: "debug" | "warn" | "error") => (m: string): void => {
    calls.push(`${level} ${m}`);
    if (levels.includes(level)) throw new Error(`logger.${level} broke`);
  };
  return { calls, debug: make("debug"), warn: make("warn"), error: make("error") };
}

describe("logger", () => {
  it("a logger that is a class instance (methods use `this`) gets the worker's and its map jobs' messages", async () => {
    const logger = new ThisLogger();
    const plain = fname("lg_plain"), late = fname("lg_late"), err = fname("lg_err"), map = fname("lg_map"), red = fname("lg_red");
    const dead = `127.0.0.1:${await freePort()}`;
    const w = res.worker({ servers: [g.address, dead], logger, reconnectDelay: 50, maxReconnectDelay: 200, concurrency: 2 });
    let lateJob: Job | undefined;
    let errRuns = 0;
    w.defineFunction(plain, () => 42 as unknown as string); // not a payload: warn, WORK_FAIL
    w.defineFunction(late, (job) => void (lateJob = job)); // a send after the end: warn
    w.defineFunction(err, () => (++errRuns === 1 ? GearmanReturn.ERROR : "again")); // ERROR: debug back-off
    w.defineFunction(map, partitioned({ partition: async (job) => void (await job.sendData("x")), aggregate: () => { throw new Error("agg"); } }));
    w.defineFunction(red, (job) => job.text());
    await w.start();
    const c = client({ logger });
    await expect(c.execute(plain, "x", { timeout: 5000 })).rejects.toBeInstanceOf(JobFailedError);
    await c.execute(late, "x", { timeout: 5000 });
    lateJob!.sendStatus(1, 2);
    expect(text(await c.execute(err, "x", { timeout: 10_000 }))).toBe("again");
    await expect(c.executeReduce(map, red, "x", { timeout: 5000 })).rejects.toBeInstanceOf(JobFailedError);
    await waitFor(() => logger.lines.some((l) => l.startsWith(`debug reconnect to ${dead}`)), 3000, "the reconnect debug line");
    const has = (prefix: string): boolean => logger.lines.some((l) => l.startsWith(prefix));
    expect(has(`warn ${plain} returned a number, not a payload`)).toBe(true);
    expect(has("warn sendStatus after job")).toBe(true);
    expect(has(`debug ${err} returned ERROR; retry in`)).toBe(true);
    expect(has("debug map job")).toBe(true);
    expect([...uncaught, ...unhandled]).toEqual([]);
  });

  it("a logger whose warn throws: a handler returning a non-payload still fails its job, and the worker serves the next", async () => {
    const fn = fname("lg_warn");
    const w = worker({ logger: throwingLogger("warn"), concurrency: 1 });
    w.defineFunction(fn, (job) => (job.text() === "bad" ? (42 as unknown as string) : "fine"));
    await w.start();
    const c = client();
    const bad = await within(c.execute(fn, "bad", { timeout: 3000 }), 4000);
    expect(bad).toMatchObject({ error: expect.any(JobFailedError) }); // before the fix: TimeoutError: no terminal packet was sent
    const next = await within(c.execute(fn, "good", { timeout: 3000 }), 4000);
    expect(next instanceof Uint8Array ? text(next) : next).toBe("fine"); // before the fix: TimeoutError: the slot stays taken
    expect(messages(uncaught)).toEqual([]); // before the fix: ["logger.warn broke"], thrown out of the socket's data handler
  });

  it("a logger whose debug throws: the worker still reconnects when gearmand comes back", async () => {
    const port = await freePort();
    let own = await res.gearmand({ port });
    const fn = fname("lg_reconnect");
    const w = res.worker({ servers: [own.address], logger: throwingLogger("debug"), reconnectDelay: 50, maxReconnectDelay: 200 });
    w.defineFunction(fn, (job) => `r:${job.text()}`);
    await w.start();
    const c = res.client({ servers: [own.address] });
    expect(text(await c.execute(fn, "before", { timeout: 3000 }))).toBe("r:before");
    await own.stop();
    own = await res.gearmand({ port });
    const c2 = res.client({ servers: [own.address] });
    const after = await within(c2.execute(fn, "after", { timeout: 5000 }), 6000);
    expect(after instanceof Uint8Array ? text(after) : after).toBe("r:after"); // before the fix: TimeoutError: no reconnect was scheduled
    expect(messages(uncaught)).toEqual([]); // before the fix: ["logger.debug broke"] from the socket's close handler
  });

  it("a logger whose debug throws: after a lost connection, close() still settles every resubmittable task", async () => {
    const own = await res.gearmand();
    const fn = fname("lg_resubmit");
    const c = res.client({ servers: [own.address], logger: throwingLogger("debug"), resubmitOnReconnect: true, reconnectDelay: 50 });
    const tasks = [c.submit(fn, "a", { unique: fname("u") }), c.submit(fn, "b", { unique: fname("u") })];
    await Promise.all(tasks.map((t) => t.created()));
    await own.stop();
    await sleep(200);
    await within(c.close(), 2000);
    const outcomes = await Promise.all(tasks.map((t) => within(t.result(), 2000)));
    // "close(): Tasks still running reject with ClosedError".
    expect(outcomes).toEqual([{ error: expect.any(ClosedError) }, { error: expect.any(ClosedError) }]); // before the fix: both TIMEOUT
    expect(messages(uncaught)).toEqual([]); // before the fix: ["logger.debug broke"]
  });

  it("a logger method that returns a rejected or never-settling promise changes nothing: the rejection surfaces once, as the logger's own", async () => {
    const fn = fname("lg_async");
    const logger: Logger = {
      warn: async () => {
        throw new Error("async warn broke");
      },
      debug: () => new Promise<void>(() => {}) as unknown as void,
    };
    const w = worker({ logger, concurrency: 1 });
    w.defineFunction(fn, (job) => (job.text() === "bad" ? (42 as unknown as string) : "fine"));
    await w.start();
    const c = client({ logger });
    await expect(c.execute(fn, "bad", { timeout: 3000 })).rejects.toBeInstanceOf(JobFailedError);
    expect(text(await c.execute(fn, "good", { timeout: 3000 }))).toBe("fine");
    await waitFor(() => unhandled.length > 0, 1000, "the logger's rejection");
    expect(messages(unhandled)).toEqual(["async warn broke"]);
    expect(uncaught).toEqual([]);
  });
});

describe("tap", () => {
  /** A tap that throws once, on the first packet of `type` going `direction`. */
  function throwOnce(direction: "in" | "out", type: number) {
    let thrown = false;
    return (d: "in" | "out", p: Packet): void => {
      if (!thrown && d === direction && p.type === type) {
        thrown = true;
        throw new Error(`tap broke on ${d}`);
      }
    };
  }

  it("a client tap that throws on an outgoing SUBMIT_JOB does not hand one task another task's result", async () => {
    const fn = fname("tap_out");
    await echoWorker(fn, { concurrency: 2 });
    const c = client({ tap: throwOnce("out", PacketType.SUBMIT_JOB) });
    await c.echo("warm up", { timeout: 3000 }); // the connection is up: both submits go out in one turn
    const a = c.submit(fn, "a", { timeout: 3000 });
    const b = c.submit(fn, "b", { timeout: 3000 });
    const [ra, rb] = await Promise.all([within(a.result(), 4000), within(b.result(), 4000)]);
    // Task a may fail with the tap's error or run (then its SUBMIT went out), but never with b's result, nor hang.
    expect(ra instanceof Uint8Array ? text(ra) : ra === TIMEOUT ? ra : "an error").toMatch(/^(r:a|an error)$/);
    // before the fix: ProtocolError "sent JOB_CREATED, expected nothing": a's SUBMIT went out though its request was dropped, so
    // b was paired with a's JOB_CREATED and b's own JOB_CREATED found no request: the whole connection was dropped.
    expect(rb instanceof Uint8Array ? text(rb) : rb).toBe("r:b");
  });

  it("a client tap that throws on an incoming JOB_CREATED does not leave tasks without (or with another's) result", async () => {
    const fn = fname("tap_in");
    await echoWorker(fn, { concurrency: 2 });
    const c = client({ tap: throwOnce("in", PacketType.JOB_CREATED) });
    await c.echo("warm up", { timeout: 3000 });
    const a = c.submit(fn, "a", { timeout: 3000 });
    await sleep(100); // a's JOB_CREATED (dropped by the throw) arrives alone, then b is submitted
    const b = c.submit(fn, "b", { timeout: 3000 });
    const [ra, rb] = await Promise.all([within(a.result(), 4000), within(b.result(), 4000)]);
    expect(ra instanceof Uint8Array ? text(ra) : ra).not.toBe("r:b"); // before the fix: "r:b": b's JOB_CREATED was matched to a
    expect(rb instanceof Uint8Array ? text(rb) : rb).toBe("r:b"); // before the fix: TimeoutError
  });

  it("a worker tap that throws on its outgoing WORK_COMPLETE: the job still gets exactly one terminal packet", async () => {
    const fn = fname("tap_worker");
    const logger = memoryLogger();
    await echoWorker(fn, { tap: throwOnce("out", PacketType.WORK_COMPLETE), logger });
    const c = client();
    const r = await within(c.execute(fn, "x", { timeout: 3000 }), 4000);
    expect(r instanceof Uint8Array || (typeof r === "object" && r.error instanceof JobFailedError)).toBe(true);
    await c.echo("x", { timeout: 3000 }); // gearmand has read the worker's packets by now
    await sleep(100);
    // README: "Every job gets exactly one terminal packet". gearmand answers a second one with ERROR JOB_NOT_FOUND.
    expect(logger.messages.filter((m) => m.includes("JOB_NOT_FOUND"))).toEqual([]);
    // before the fix: two JOB_NOT_FOUND: the WORK_COMPLETE went out although the tap threw, then end_()'s catch sent
    // WORK_WARNING and WORK_FAIL for the same job.
  });

  it("a tap that submits another job from inside its own call keeps requests and replies paired", async () => {
    const fn = fname("tap_reentrant");
    await echoWorker(fn, { concurrency: 2 });
    let inner: Task | undefined;
    let once = false;
    const c = client({
      tap: (d, p) => {
        if (once || d !== "out" || p.type !== PacketType.SUBMIT_JOB) return;
        once = true;
        inner = c.submit(fn, "inner", { timeout: 3000 });
      },
    });
    const outer = c.submit(fn, "outer", { timeout: 3000 });
    expect(text(await outer.result())).toBe("r:outer");
    expect(text(await inner!.result())).toBe("r:inner");
    expect([...uncaught, ...unhandled]).toEqual([]);
  });

  it("a tap that returns a rejected promise changes nothing: the rejection is the tap's own", async () => {
    const fn = fname("tap_async");
    await echoWorker(fn);
    let once = false;
    const c = client({ tap: async () => {
      if (once) return;
      once = true;
      throw new Error("async tap broke");
    } });
    expect(text(await c.execute(fn, "x", { timeout: 3000 }))).toBe("r:x");
    await waitFor(() => unhandled.length > 0, 1000, "the tap's rejection");
    expect(messages(unhandled)).toEqual(["async tap broke"]);
  });
});

describe("Task listeners and for await", () => {
  it("listeners that throw on complete, fail or '*': each task settles with its own outcome; each error is reported once, uncaught", async () => {
    const fn = fname("tl_throw");
    const w = worker({ concurrency: 4 });
    w.defineFunction(fn, (job) => (job.text() === "fail" ? GearmanReturn.FAIL : `r:${job.text()}`));
    await w.start();
    const c = client();
    const ok = c.submit(fn, "ok", { timeout: 3000 });
    const failing = c.submit(fn, "fail", { timeout: 3000 });
    const other = c.submit(fn, "other", { timeout: 3000 });
    ok.on("complete", () => {
      throw new Error("complete listener");
    });
    failing.on("fail", () => {
      throw new Error("fail listener");
    });
    other.on("*", (e) => {
      if (e.type === "complete") throw new Error("star listener");
    });
    expect(text(await ok.result())).toBe("r:ok");
    await expect(failing.result()).rejects.toBeInstanceOf(JobFailedError);
    expect(text(await other.result())).toBe("r:other");
    await waitFor(() => uncaught.length === 3, 1000, "three listener errors");
    expect(messages(uncaught).sort()).toEqual(["complete listener", "fail listener", "star listener"]);
    expect(unhandled).toEqual([]);
  });

  it("a complete listener that aborts the signal its sibling tasks share: the completed task keeps its result", async () => {
    const fn = fname("tl_race");
    const release = gate();
    const w = worker({ concurrency: 3 });
    w.defineFunction(fn, async (job) => (job.text() === "fast" ? "won" : (await release.promise, "late")));
    await w.start();
    const c = client();
    const ac = new AbortController();
    const [fast, slow1, slow2] = ["fast", "slow", "slow"].map((x) => c.submit(fn, x, { signal: ac.signal, timeout: 5000 }));
    const seen: string[] = [];
    const iterated = (async () => {
      for await (const e of fast!) seen.push(e.type);
    })();
    fast!.on("complete", () => ac.abort()); // first answer wins: cancel the rest
    const outcome = await within(fast!.result(), 4000);
    release.resolve();
    await expect(slow1!.result()).rejects.toBeInstanceOf(AbortError);
    await expect(slow2!.result()).rejects.toBeInstanceOf(AbortError);
    expect(outcome instanceof Uint8Array ? text(outcome) : outcome).toBe("won"); // before the fix: { error: AbortError } after the 'complete' event
    expect(await within(iterated, 1000)).toBeUndefined(); // before the fix: the iterator threw AbortError
    expect(seen).toContain("complete"); // before the fix: the iterator never got 'complete'
  });

  it("a fail listener that aborts the task's own signal: the task rejects with JobFailedError, as its 'fail' event said", async () => {
    const fn = fname("tl_fail_abort");
    const w = worker();
    w.defineFunction(fn, () => GearmanReturn.FAIL);
    await w.start();
    const c = client();
    const ac = new AbortController();
    const task = c.submit(fn, "x", { signal: ac.signal, timeout: 5000 });
    task.on("fail", () => ac.abort());
    const outcome = await within(task.result(), 4000);
    expect(outcome).toMatchObject({ error: expect.any(JobFailedError) }); // before the fix: { error: AbortError }
  });

  it("listeners that call back into the client: a submit from 'complete' runs; close() from 'created' ends the task with ClosedError", async () => {
    const fn = fname("tl_reentrant");
    await echoWorker(fn, { concurrency: 2 });
    const c = client();
    let second: Task | undefined;
    const first = c.submit(fn, "first", { timeout: 3000 });
    first.on("complete", () => void (second = c.submit(fn, "second", { timeout: 3000 })));
    expect(text(await first.result())).toBe("r:first");
    expect(text(await second!.result())).toBe("r:second");

    const c2 = client();
    const closing = c2.submit(fn, "closing", { timeout: 3000 });
    const sibling = c2.submit(fn, "sibling", { timeout: 3000 });
    let closed: Promise<void> | undefined;
    closing.on("created", () => void (closed = c2.close()));
    const [a, b] = await Promise.all([within(closing.result(), 4000), within(sibling.result(), 4000)]);
    expect(await within(closed!, 2000)).toBeUndefined();
    // Either outcome, once: a result that came in the same read as JOB_CREATED is still delivered after close().
    for (const o of [a, b]) expect(o instanceof Uint8Array || (typeof o === "object" && "error" in o && o.error instanceof ClosedError)).toBe(true);
    expect(c2.submit(fn, "after").done).toBe(true);
    expect([...uncaught, ...unhandled]).toEqual([]);
  });

  it("a for await that breaks early, and async listeners that reject or never settle: the task still settles once, other consumers see every event", async () => {
    const fn = fname("tl_break");
    const w = worker();
    w.defineFunction(fn, async (job) => {
      job.sendStatus(1, 3);
      job.sendStatus(2, 3);
      await job.sendData("d");
      return "done";
    });
    await w.start();
    const c = client();
    const task = c.submit(fn, "x", { timeout: 3000 });
    task.on("status", async () => {
      throw new Error("async listener");
    });
    task.on("data", () => new Promise<void>(() => {}) as unknown as void);
    const broke = (async () => {
      for await (const e of task) if (e.type === "status") break;
    })();
    const all: string[] = [];
    const full = (async () => {
      for await (const e of task) all.push(e.type);
    })();
    expect(text(await task.output())).toBe("ddone");
    await broke;
    await full;
    expect(all).toEqual(["created", "status", "status", "data", "complete"]);
    await waitFor(() => unhandled.length === 2, 1000, "the async listener's rejections");
    expect(messages(unhandled)).toEqual(["async listener", "async listener"]);
    expect(uncaught).toEqual([]);
  });
});

describe("job handlers", () => {
  it("handlers that throw odd values, reject, or return a thenable whose then throws: each job fails and the worker keeps serving", async () => {
    const fn = fname("h_odd");
    const odd: Record<string, () => unknown> = {
      null: () => {
        throw null;
      },
      undefined: () => {
        throw undefined;
      },
      nullproto: () => {
        throw Object.create(null);
      },
      symbol: () => {
        throw Symbol("s");
      },
      badstring: () => {
        throw { toString: () => { throw new Error("nested"); } };
      },
      reject: () => Promise.reject(new Error("rejected")),
      thenable: () => ({ then: () => { throw new Error("then broke"); } }),
      hugeerror: () => {
        throw new Error("x".repeat(1000));
      },
    };
    const w = worker({ concurrency: 1 });
    w.defineFunction(fn, (job) => (odd[job.text()] ? odd[job.text()]!() : "ok") as string);
    await w.start();
    const c = client();
    for (const name of Object.keys(odd)) await expect(c.execute(fn, name, { timeout: 3000 }), name).rejects.toBeInstanceOf(JobFailedError);
    expect(text(await c.execute(fn, "fine", { timeout: 3000 }))).toBe("ok");
    expect([...uncaught, ...unhandled]).toEqual([]);
  });

  it("a handler that never settles: job.signal aborts at its timeout, and stop({ timeout }) returns by its deadline", async () => {
    const fn = fname("h_hang");
    const w = worker();
    let job: Job | undefined;
    w.defineFunction(fn, (j) => {
      job = j;
      return new Promise<string>(() => {});
    }, { timeout: 1000 });
    await w.start();
    const c = client();
    await c.submitBackground(fn, "x");
    await waitFor(() => job?.signal.aborted, 4000, "the timeout's abort");
    expect(w.running).toBe(1); // the handler still runs: it keeps its slot
    const t0 = Date.now();
    expect(await within(w.stop({ timeout: 300 }), 3000)).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect([...uncaught, ...unhandled]).toEqual([]);
  });

  it("handlers that stop their own worker (at once, or awaiting a graceful stop): stop resolves, the job runs again on another worker", async () => {
    const fn = fname("h_stop");
    for (const graceful of [false, true]) {
      const w = worker();
      let stopped: Promise<unknown> | undefined;
      w.defineFunction(fn, async () => {
        if (graceful) stopped = within(w.stop({ timeout: 300 }), 3000);
        else stopped = w.stop({ graceful: false });
        if (graceful) await stopped;
        return "from the stopped worker";
      });
      await w.start();
      const c = client();
      const task = c.submit(fn, `g${graceful}`, { timeout: 8000 });
      await waitFor(() => stopped !== undefined, 3000, `the handler's stop (graceful: ${graceful})`);
      expect(await within(stopped!, 3000)).toBeUndefined();
      const other = worker();
      other.defineFunction(fn, (job) => `again:${job.text()}`);
      await other.start();
      expect(text(await task.result())).toBe(`again:g${graceful}`);
      await other.stop();
    }
    expect([...uncaught, ...unhandled]).toEqual([]);
  });
});

describe("job.signal consumers", () => {
  it("an abort listener that throws and sends late: the error is the listener's own, the job ends once, the worker serves the next", async () => {
    const fn = fname("sig_throw");
    const logger = memoryLogger();
    const w = worker({ logger });
    w.defineFunction(fn, (job) => job.text() === "next" ? "served" : new Promise<string>((resolve) => {
      job.signal.addEventListener("abort", () => {
        job.sendStatus(1, 2);
        resolve("too late");
        throw new Error("abort listener broke");
      });
    }), { timeout: 1000 });
    await w.start();
    const c = client();
    await c.submitBackground(fn, "hang");
    await waitFor(() => uncaught.length > 0, 4000, "the abort listener's error");
    expect(messages(uncaught)).toEqual(["abort listener broke"]);
    expect(logger.messages.some((m) => m.startsWith("warn: sendStatus after job"))).toBe(true);
    // gearmand requeued "hang" at the timeout: its next run hangs too, but a slot is free for "next".
    const other = worker();
    other.defineFunction(fn, () => "served elsewhere");
    await other.start();
    expect(text(await c.execute(fn, "next", { timeout: 5000 }))).toMatch(/served/);
    expect(unhandled).toEqual([]);
  });

  it("abort listeners that stop the worker while stop() aborts them: both stops resolve, nothing escapes", async () => {
    const fn = fname("sig_stop");
    const w = worker({ concurrency: 2 });
    const inner: Promise<void>[] = [];
    let running = 0;
    w.defineFunction(fn, (job) => new Promise<string>((resolve) => {
      running++;
      job.signal.addEventListener("abort", () => {
        inner.push(w.stop({ graceful: false }));
        resolve("dropped");
      });
    }));
    await w.start();
    const c = client();
    await c.submitBackground(fn, "1");
    await c.submitBackground(fn, "2");
    await waitFor(() => running === 2, 3000, "two jobs running");
    expect(await within(w.stop({ graceful: false }), 3000)).toBeUndefined();
    expect(inner).toHaveLength(2);
    expect(await within(Promise.all(inner), 3000)).toEqual([undefined, undefined]);
    expect([...uncaught, ...unhandled]).toEqual([]);
  });
});

describe("partitioned({ partition, aggregate })", () => {
  it("a partition or aggregate that throws, rejects or returns a non-payload fails its map job with the reason; the worker serves the next", async () => {
    const map = fname("pm"), red = fname("pr");
    const cases: Record<string, { partition: (job: Job) => unknown; aggregate?: (r: Uint8Array[]) => unknown }> = {
      "partition throws": { partition: () => { throw new Error("partition throws"); } },
      "partition rejects": { partition: async (job) => { await job.sendData("a"); throw new Error("partition rejects"); } },
      "aggregate throws": { partition: async (job) => void (await job.sendData("a")), aggregate: () => { throw new Error("aggregate throws"); } },
      "aggregate rejects": { partition: async (job) => void (await job.sendData("a")), aggregate: async () => { throw new Error("aggregate rejects"); } },
      "aggregate returns a number": { partition: async (job) => void (await job.sendData("a")), aggregate: () => 7 },
    };
    const w = worker({ concurrency: 2 });
    w.defineFunction(map, partitioned({
      partition: (job) => (cases[job.text()] ? cases[job.text()]!.partition(job) : job.sendData(job.text())) as Promise<void>,
      aggregate: (results, job) => (cases[job.text()]?.aggregate ?? ((r: Uint8Array[]) => `agg:${r.map(text).join("")}`))(results) as string,
    }));
    w.defineFunction(red, (job) => job.text().toUpperCase());
    await w.start();
    const c = client();
    for (const name of Object.keys(cases)) {
      const err = await c.executeReduce(map, red, name, { timeout: 5000 }).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(JobFailedError);
      const warnings = (err as JobFailedError).warnings.map(text).join("");
      expect(warnings, name).toMatch(name === "aggregate returns a number" ? /payload|string|Uint8Array/i : new RegExp(name));
    }
    expect(text(await c.executeReduce(map, red, "ok", { timeout: 5000 }))).toBe("agg:OK");
    expect([...uncaught, ...unhandled]).toEqual([]);
  });
});

describe("connectors", () => {
  it("a connector factory that throws, and connectors that throw synchronously or reject with a plain Error: typed errors, nothing escapes", async () => {
    expect(() => client({ connector: () => { throw new TypeError("factory broke"); } })).toThrow("factory broke");
    const sync: Connector = () => { throw new Error("connect broke"); };
    const rejecting: Connector = async () => { throw new Error("connect rejected"); };
    for (const connect of [sync, rejecting]) {
      const c = client({ connector: () => connect });
      await expect(c.execute("f", "x", { timeout: 2000 })).rejects.toBeInstanceOf(ConnectionError);
      const w = worker({ connector: () => connect });
      w.defineFunction("f", () => "x");
      await expect(within(w.start(), 2000)).resolves.toMatchObject({ error: expect.any(Error) });
    }
    expect([...uncaught, ...unhandled]).toEqual([]);
  });

  // A connector must settle soon once its signal aborts (Connector's TSDoc): close() and stop() wait for connects still
  // out. One that ignores its signal keeps them waiting; that is the connector's contract, not something the SDK works around.
  it("a connector that honours its signal: close() and stop() end a connect still out at once", async () => {
    const slow = (s: string): Connector => (signal) => new Promise((resolve, reject) => {
      const t = setTimeout(() => tcpConnector(s)(signal).then(resolve, reject), 60_000);
      signal?.addEventListener("abort", () => (clearTimeout(t), reject(new ConnectionError("aborted"))));
    });
    const c = client({ connector: slow });
    const task = c.submit("f", "x");
    await sleep(50);
    expect(await within(c.close(), 2000)).toBeUndefined();
    expect(await within(task.result(), 2000)).toMatchObject({ error: expect.any(ClosedError) });
    const w = worker({ connector: slow });
    w.defineFunction("f", () => "x");
    const started = within(w.start(), 3000);
    await sleep(50);
    expect(await within(w.stop(), 2000)).toBeUndefined();
    expect(await started).toMatchObject({ error: expect.any(ClosedError) });
  });
});
