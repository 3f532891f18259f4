// Node: map/reduce (partition + aggregate) against a real gearmand (issue #3).
import { afterEach, describe, expect, it } from "vitest";
import { GearmanReturn, type Job, JobFailedError, PacketType, argText, partitioned } from "../../src/node.ts";
import { fname, gate, Resources, sleep, tapper, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Starts a worker serving `reducer`: upper-cases the chunk and appends "."; "fail" fails, "throw" throws. */
async function upperWorker(reducer: string, options: { exceptions?: boolean; concurrency?: number; libgearmanCompatible?: boolean } = {}) {
  const calls: { text: string; unique: string; at: number }[] = [];
  const w = res.worker({ concurrency: options.concurrency ?? 4, libgearmanCompatible: options.libgearmanCompatible });
  w.defineFunction(reducer, (job) => {
    calls.push({ text: job.text(), unique: job.unique, at: Date.now() });
    if (job.text() === "fail") return GearmanReturn.FAIL;
    if (job.text() === "throw") throw new Error("reducer threw");
    return `${job.text().toUpperCase()}.`;
  }, { exceptions: options.exceptions });
  await w.start();
  return { worker: w, calls };
}

const words = (job: Job) => job.text().split(" ");

describe("map/reduce happy path", () => {
  it("executeReduce: the aggregator gets the reducer results in send order", async () => {
    const split = fname("split");
    const upper = fname("upper");
    await upperWorker(upper);
    const seen: string[][] = [];
    let aggJob: Job | undefined;
    const ctx = { tag: "ctx" };
    let partitionCtx: unknown;
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        partitionCtx = job.context;
        expect(job.reducer).toBe(upper);
        for (const w of words(job)) await job.sendData(w);
      },
      aggregate: (results, job) => {
        aggJob = job;
        seen.push(results.map(text));
        return results.map(text).join("|");
      },
    }), { context: ctx });
    await m.start();
    const c = res.client();
    const task = c.submitReduce(split, upper, "alpha beta gamma");
    const events: string[] = [];
    task.on("*", (e) => events.push(e.type));
    expect(text(await task.result())).toBe("ALPHA.|BETA.|GAMMA.");
    expect(seen).toEqual([["ALPHA.", "BETA.", "GAMMA."]]);
    expect(partitionCtx).toBe(ctx);
    expect(aggJob!.context).toBe(ctx);
    // the chunks never reach the client as data
    expect(events).toEqual(["created", "complete"]);
    expect(text(await c.executeReduce(split, upper, "one two"))).toBe("ONE.|TWO.");
  });

  it("without an aggregator the results are concatenated in send order", async () => {
    const split = fname("split");
    const upper = fname("upper");
    await upperWorker(upper);
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        for (const w of words(job)) await job.sendData(w);
      },
    }));
    await m.start();
    const c = res.client();
    expect(text(await c.executeReduce(split, upper, "alpha beta gamma"))).toBe("ALPHA.BETA.GAMMA.");
  });

  it("a partition function called by a normal submit sends its chunks to the client as data", async () => {
    const split = fname("split");
    let aggregated = false;
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        expect(job.reducer).toBe("");
        for (const w of words(job)) await job.sendData(w);
      },
      aggregate: () => {
        aggregated = true;
        return "nope";
      },
    }));
    await m.start();
    const c = res.client();
    const task = c.submit(split, "a b c");
    const data: string[] = [];
    task.on("data", (e) => data.push(text(e.data)));
    expect(text(await task.result())).toBe("");
    expect(data).toEqual(["a", "b", "c"]);
    expect(text(await c.execute(split, "x y"))).toBe("xy");
    expect(aggregated).toBe(false);
  });

  it("ONE worker with concurrency 1 serving both mapper and reducer does not deadlock", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const w = res.worker();
    w.defineFunction(upper, (job) => `${job.text().toUpperCase()}.`);
    w.defineFunction(split, partitioned({
      partition: async (job) => {
        for (const x of words(job)) await job.sendData(x);
      },
      aggregate: (results) => results.map(text).join(""),
    }));
    await w.start();
    const c = res.client();
    expect(text(await c.executeReduce(split, upper, "alpha beta gamma", { timeout: 10_000 }))).toBe("ALPHA.BETA.GAMMA.");
    // two map jobs at once on the same single worker
    const both = await Promise.all([
      c.executeReduce(split, upper, "a b", { timeout: 10_000 }),
      c.executeReduce(split, upper, "c d", { timeout: 10_000 }),
    ]);
    expect(both.map(text)).toEqual(["A.B.", "C.D."]);
  });

  it("submitReduceBackground runs the whole map/reduce with nobody listening", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const { calls } = await upperWorker(upper);
    const done = gate<string[]>();
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        for (const x of words(job)) await job.sendData(x);
      },
      aggregate: (results) => {
        done.resolve(results.map(text));
        return "ignored";
      },
    }));
    await m.start();
    const c = res.client();
    const handle = await c.submitReduceBackground(split, upper, "bg one");
    expect(handle).toMatch(/^H:/);
    expect(await done.promise).toEqual(["BG.", "ONE."]);
    expect(calls.map((x) => x.text).sort()).toEqual(["bg", "one"]);
    await waitFor(async () => !(await c.getStatus(handle)).known, 3000, "map job finished");
  });
});

describe("map/reduce is opt-in through partitioned()", () => {
  it("a reduce job for a plain handler fails at once with a message naming partitioned(); a bare { partition } is refused", async () => {
    const plain = fname("plainmap");
    const upper = fname("upper");
    await upperWorker(upper);
    let calls = 0;
    const w = res.worker();
    w.defineFunction(plain, () => String(++calls));
    expect(() => w.defineFunction(fname("bare"), { partition: () => {} } as never)).toThrow(/partitioned\(/);
    await w.start();
    const c = res.client();
    const err = await c.executeReduce(plain, upper, "a b", { timeout: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect(String((err as JobFailedError).message)).toMatch(/partitioned\(\)/);
    expect(calls).toBe(0);
    // The same function by a plain submit still runs.
    expect(text(await c.execute(plain, "x"))).toBe("1");
  });
});

describe("map/reduce failures fail the job at once, and nothing more is submitted", () => {
  /** A mapper worker that sends one chunk every `every` ms (10 chunks), then idles 2 s. */
  async function slowMapper(split: string, chunks: string[], options: { every?: number; maxInFlight?: number; aggregate?: (r: Uint8Array[]) => string } = {}) {
    const t = tapper();
    const m = res.worker({ tap: t.tap });
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        for (const ch of chunks) {
          await job.sendData(ch);
          if (options.every) await sleep(options.every);
        }
        await sleep(2000);
      },
      aggregate: options.aggregate,
    }), { maxInFlight: options.maxInFlight });
    await m.start();
    return t;
  }
  const reducerSubmits = (t: ReturnType<typeof tapper>, reducer: string) =>
    t.packets.filter((p) => p.direction === "out" && p.packet.type === PacketType.SUBMIT_JOB && argText(p.packet, 0) === reducer);

  for (const kind of ["fail", "throw"] as const) {
    it(`a reducer that ${kind === "fail" ? "returns FAIL" : "throws"} fails the map job promptly`, async () => {
      const split = fname("split");
      const upper = fname("upper");
      const { calls } = await upperWorker(upper);
      const chunks = ["a", kind, "c", "d", "e", "f", "g", "h"];
      const t = await slowMapper(split, chunks, { every: 100 });
      const c = res.client();
      const t0 = Date.now();
      const err = await c.executeReduce(split, upper, "x").catch((e: unknown) => e);
      const failedAt = Date.now();
      expect(err).toBeInstanceOf(JobFailedError);
      expect(failedAt - t0).toBeLessThan(1000);
      await sleep(1000);
      expect(reducerSubmits(t, upper).filter((p) => p.at > failedAt)).toEqual([]);
      expect(reducerSubmits(t, upper).length).toBeLessThanOrEqual(3);
      expect(calls.map((x) => x.text).slice(0, 2)).toEqual(["a", kind]);
      expect(calls.length).toBe(reducerSubmits(t, upper).length);
    });
  }

  it("a reducer that sends WORK_EXCEPTION (exceptions:true) fails the map job, not a hang", async () => {
    const split = fname("split");
    const upper = fname("upper");
    await upperWorker(upper, { exceptions: true });
    await slowMapper(split, ["a", "throw", "c"], { every: 50 });
    const c = res.client();
    const t0 = Date.now();
    const err = (await c.executeReduce(split, upper, "x").catch((e: unknown) => e)) as JobFailedError;
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err.warnings.map(text).join()).toMatch(/reducer threw/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("with maxInFlight 1, nothing after the failing chunk is ever submitted", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const { calls } = await upperWorker(upper);
    const t = await slowMapper(split, ["a", "fail", "c", "d", "e"], { maxInFlight: 1 });
    const c = res.client();
    await expect(c.executeReduce(split, upper, "x")).rejects.toBeInstanceOf(JobFailedError);
    await sleep(300);
    expect(reducerSubmits(t, upper).map((p) => text(p.packet.args[2]!))).toEqual(["a", "fail"]);
    expect(calls.map((x) => x.text)).toEqual(["a", "fail"]);
  });

  it("a partition function that throws fails the job promptly with its message", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const { calls } = await upperWorker(upper);
    const m = res.worker();
    let afterThrow = 0;
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        await job.sendData("a");
        setTimeout(() => void job.sendData("late").then(() => afterThrow++), 50);
        throw new Error("partition broke");
      },
    }));
    await m.start();
    const c = res.client();
    const t0 = Date.now();
    const err = (await c.executeReduce(split, upper, "x").catch((e: unknown) => e)) as JobFailedError;
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err.warnings.map(text)).toContain("partition broke");
    expect(Date.now() - t0).toBeLessThan(1000);
    await sleep(300);
    expect(afterThrow).toBe(1);
    expect(calls.map((x) => x.text).filter((x) => x === "late")).toEqual([]);
  });

  it("a partition function that returns FAIL fails the job at once; its chunks stop there", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const { calls } = await upperWorker(upper);
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        await job.sendData("a");
        await job.sendData("b");
        return GearmanReturn.FAIL;
      },
      aggregate: () => "never",
    }));
    await m.start();
    const c = res.client();
    const t0 = Date.now();
    await expect(c.executeReduce(split, upper, "x")).rejects.toBeInstanceOf(JobFailedError);
    expect(Date.now() - t0).toBeLessThan(1000);
    await sleep(200);
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it("an aggregator that throws fails the job with its message", async () => {
    const split = fname("split");
    const upper = fname("upper");
    await upperWorker(upper);
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        for (const x of words(job)) await job.sendData(x);
      },
      aggregate: () => {
        throw new Error("cannot aggregate");
      },
    }));
    await m.start();
    const c = res.client();
    const t0 = Date.now();
    const err = (await c.executeReduce(split, upper, "p q").catch((e: unknown) => e)) as JobFailedError;
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err.warnings.map(text)).toContain("cannot aggregate");
    expect(Date.now() - t0).toBeLessThan(1000);
    // the worker is fine afterwards
    const m2 = fname("split_ok");
    m.defineFunction(m2, partitioned({ partition: async (job) => void (await job.sendData(job.text())) }));
    expect(text(await c.executeReduce(m2, upper, "ok"))).toBe("OK.");
  });
});

describe("map/reduce at scale", () => {
  // 100,000 chunks take about 22 s on 2 cores (~5,000 jobs/s through gearmand with client, mapper and
  // reducer in one process): too close to the time budget once other files run in parallel, so the
  // default is 20,000. MR_CHUNKS=100000 runs the full size.
  const N = Number(process.env.MR_CHUNKS ?? 20_000);
  it(`${N.toLocaleString("en")} chunks with maxInFlight 32 complete with at most 32 reducer jobs in flight`, async () => {
    const split = fname("split");
    const reducer = fname("inc");
    let handlerNow = 0;
    let handlerMax = 0;
    const r = res.worker({ concurrency: 16 });
    r.defineFunction(reducer, async (job) => {
      handlerNow++;
      handlerMax = Math.max(handlerMax, handlerNow);
      await Promise.resolve();
      handlerNow--;
      return `r${job.text()}`;
    });
    await r.start();
    // count reducer jobs in flight from the mapper's own packets: SUBMIT_JOB out minus results in
    let inFlight = 0;
    let maxInFlight = 0;
    const m = res.worker({
      tap: (d, p) => {
        if (d === "out" && p.type === PacketType.SUBMIT_JOB) maxInFlight = Math.max(maxInFlight, ++inFlight);
        else if (d === "in" && (p.type === PacketType.WORK_COMPLETE || p.type === PacketType.WORK_FAIL)) inFlight--;
      },
    });
    let checked = false;
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        const n = Number(job.text());
        for (let i = 0; i < n; i++) await job.sendData(String(i));
      },
      aggregate: (results) => {
        expect(results.length).toBe(N);
        for (let i = 0; i < N; i++) if (text(results[i]!) !== `r${i}`) throw new Error(`result ${i} is ${text(results[i]!)}`);
        checked = true;
        return String(results.length);
      },
    }), { maxInFlight: 32 });
    await m.start();
    const admin = res.admin();
    let serverMax = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const row = (await admin.status()).find((s) => s.name === reducer);
        if (row) serverMax = Math.max(serverMax, row.total);
        await sleep(25);
      }
    })();
    const c = res.client();
    const t0 = Date.now();
    const out = await c.executeReduce(split, reducer, String(N), { timeout: 60_000 });
    const elapsed = Date.now() - t0;
    sampling = false;
    await sampler;
    expect(text(out)).toBe(String(N));
    expect(checked).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(32);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(serverMax).toBeLessThanOrEqual(32);
    expect(handlerMax).toBeLessThanOrEqual(16);
    console.log(`map/reduce of ${N} chunks: ${elapsed} ms, max in flight ${maxInFlight}, server max ${serverMax}`);
    expect(elapsed).toBeLessThan(30_000);
  }, 60_000);
});

describe("libgearmanCompatible", () => {
  it("reverses the aggregation order and gives reducer jobs UUID uniques", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const { calls } = await upperWorker(upper);
    const seen: string[][] = [];
    let mapUnique = "";
    const m = res.worker({ libgearmanCompatible: true });
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        mapUnique = job.unique;
        for (const x of words(job)) await job.sendData(x);
      },
      aggregate: (results) => {
        seen.push(results.map(text));
        return results.map(text).join("");
      },
    }));
    await m.start();
    const c = res.client({ libgearmanCompatible: true });
    expect(text(await c.executeReduce(split, upper, "alpha beta gamma"))).toBe("GAMMA.BETA.ALPHA.");
    expect(seen).toEqual([["GAMMA.", "BETA.", "ALPHA."]]);
    expect(calls.length).toBe(3);
    for (const call of calls) expect(call.unique).toMatch(UUID);
    expect(new Set(calls.map((x) => x.unique)).size).toBe(3);
    expect(mapUnique).toMatch(UUID);
  });

  it("by default the map job and the reducer jobs carry no unique", async () => {
    const split = fname("split");
    const upper = fname("upper");
    const { calls } = await upperWorker(upper);
    let mapUnique: string | undefined;
    const m = res.worker();
    m.defineFunction(split, partitioned({
      partition: async (job) => {
        mapUnique = job.unique;
        for (const x of words(job)) await job.sendData(x);
      },
    }));
    await m.start();
    const c = res.client();
    expect(text(await c.executeReduce(split, upper, "a b"))).toBe("A.B.");
    expect(mapUnique).toBe("");
    expect(calls.map((x) => x.unique)).toEqual(["", ""]);
  });
});
