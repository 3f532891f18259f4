// Node: worker defects found by the semantics and DX audits, each reproduced against a real gearmand: an ERROR
// that stalled every function, stop() with a self-served map job, map jobs past `concurrency`, a failed map job's
// late sends, `timeout` on partition functions, and a rejected start() that kept retrying.
import { createServer, type AddressInfo, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  ClosedError, ConnectionError, type Connector, GearmanReturn, InvalidArgumentError, type Job, JobExceptionError, JobFailedError, PacketType, argText, partitioned, tcpConnector, type Worker,
} from "../../src/node.ts";
import { fname, gate, memoryLogger, Resources, sharedServer, sleep, tapper, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

/** Resolves when the job's signal aborts, or after `ms`. */
function abortedOr(job: Job, ms: number): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    job.signal.addEventListener("abort", () => r(clearTimeout(t)));
  });
}

/**
 * A worker where function `a` runs "slow" until `release`, and "flaky" returns ERROR on its first run: "slow" is
 * running and "flaky" has had its first run when this resolves. `more` defines the worker's other functions.
 */
async function slowThenFlaky(a: string, options: Parameters<Resources["worker"]>[0], more: (w: Worker) => void) {
  const release = gate();
  const runs: string[] = [];
  const w = res.worker(options);
  w.defineFunction(a, async (job) => {
    runs.push(job.text());
    if (job.text() === "slow") return await release.promise.then(() => "slow done");
    return job.text() === "flaky" && runs.filter((r) => r === "flaky").length === 1 ? GearmanReturn.ERROR : `${job.text()} done`;
  });
  more(w);
  await w.start();
  const c = res.client();
  const slow = c.submit(a, "slow", { timeout: 10_000 });
  await waitFor(() => runs.length === 1, 3000, "slow running");
  const flaky = c.submit(a, "flaky", { timeout: 10_000 });
  await waitFor(() => runs.length === 2, 3000, "flaky's first run");
  return { c, release, runs, slow, flaky };
}

describe("ERROR leaves only its function alone", () => {
  it("while an errored job waits for its slow sibling, the worker still takes another function's jobs", async () => {
    const b = fname("errb");
    const { c, release, runs, slow, flaky } = await slowThenFlaky(fname("erra"), { concurrency: 4 }, (w) => w.defineFunction(b, (job) => `b${job.text()}`));
    const bs = await Promise.all(["1", "2", "3"].map((x) => c.execute(b, x, { timeout: 2000 })));
    expect(bs.map(text)).toEqual(["b1", "b2", "b3"]);
    release.resolve();
    expect(text(await slow.result())).toBe("slow done");
    expect(text(await flaky.result())).toBe("flaky done");
    expect(runs).toEqual(["slow", "flaky", "flaky"]);
  });

  it("a job of the waiting function that a later GRAB brings is not run then: it goes back with the CANT_DO and runs once", async () => {
    const a = fname("parka");
    const wt = tapper();
    const logger = memoryLogger();
    const { c, release, runs, slow, flaky } = await slowThenFlaky(a, { concurrency: 4, tap: wt.tap, logger }, (w) => w.defineFunction(fname("parkb"), () => "b"));
    const later = c.submit(a, "later", { timeout: 10_000 });
    const ASSIGN: number[] = [PacketType.JOB_ASSIGN, PacketType.JOB_ASSIGN_UNIQ, PacketType.JOB_ASSIGN_ALL];
    const assigned = () => wt.packets.filter((p) => p.direction === "in" && ASSIGN.includes(p.packet.type));
    await waitFor(() => assigned().some((p) => argText(p.packet, 0) === later.handle), 3000, "later assigned");
    await sleep(300);
    expect(runs).toEqual(["slow", "flaky"]); // held, not run, while slow runs
    release.resolve();
    expect(text(await later.result())).toBe("later done");
    expect(text(await flaky.result())).toBe("flaky done");
    expect(text(await slow.result())).toBe("slow done");
    expect(runs.slice(2).sort()).toEqual(["flaky", "later"]);
    expect(logger.messages.filter((m) => m.includes("JOB_NOT_FOUND"))).toEqual([]);
  });
});

describe("map jobs", () => {
  it("graceful stop() of a worker serving both mapper and reducer lets the running map job finish", async () => {
    const split = fname("split");
    const up = fname("up");
    const w = res.worker({ concurrency: 2 });
    w.defineFunction(split, partitioned({
      partition: async (job) => {
        for (const x of job.text().split(" ")) {
          await sleep(100);
          await job.sendData(x);
        }
      },
      aggregate: (rs) => rs.map(text).join(","),
    }));
    w.defineFunction(up, (job) => job.text().toUpperCase());
    await w.start();
    const c = res.client();
    const out = c.submitReduce(split, up, "a b c d", { timeout: 10_000 });
    await sleep(250);
    const t0 = Date.now();
    await w.stop({ timeout: 4000 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(text(await out.result())).toBe("A,B,C,D");
  });

  it("jobs of other functions that GRABs bring while a stopping worker closes are not run: none is lost or run twice", async () => {
    const split = fname("split");
    const up = fname("up");
    const plain = fname("plain");
    const runs = new Map<string, number>();
    const count = (job: Job): string => (runs.set(job.text(), (runs.get(job.text()) ?? 0) + 1), `p:${job.text()}`);
    const w = res.worker({ concurrency: 2 });
    w.defineFunction(split, partitioned({ partition: async (job) => { for (const x of job.text().split(" ")) await job.sendData(x); } }));
    w.defineFunction(up, async (job) => (await sleep(1000), job.text().toUpperCase()));
    w.defineFunction(plain, count);
    await w.start();
    const c = res.client();
    const out = c.submitReduce(split, up, "a b", { timeout: 10_000 });
    await sleep(300);
    const stopped = w.stop({ timeout: 8000 });
    await sleep(100);
    // Queued behind the reducer jobs: the GRABs that free slots send may bring them just as the worker closes.
    const tasks = ["p1", "p2", "p3"].map((x) => c.submit(plain, x, { timeout: 10_000 }));
    await stopped;
    expect(text(await out.result())).toBe("AB");
    // What the stopping worker did not run, a new worker does; what it ran must have been answered.
    const w2 = res.worker();
    w2.defineFunction(plain, count);
    await w2.start();
    expect((await Promise.all(tasks.map((t) => t.result()))).map(text)).toEqual(["p:p1", "p:p2", "p:p3"]);
    expect([...runs.values()]).toEqual([1, 1, 1]);
  });

  it("at most `concurrency` partition functions run at once, and a concurrency-1 worker serving both sides still finishes", async () => {
    const split = fname("split");
    const up = fname("up");
    const c = res.client();
    const tasks = ["p", "q", "r", "s"].map((x) => c.submitReduce(split, up, `${x}1 ${x}2`, { timeout: 10_000 }));
    await sleep(200);
    let now = 0;
    let peak = 0;
    const w = res.worker({ concurrency: 1 });
    w.defineFunction(split, partitioned({
      partition: async (job) => {
        peak = Math.max(peak, ++now);
        await sleep(50);
        for (const x of job.text().split(" ")) await job.sendData(x);
        now--;
      },
    }));
    w.defineFunction(up, (job) => job.text().toUpperCase());
    await w.start();
    expect((await Promise.all(tasks.map((t) => t.result()))).map(text)).toEqual(["P1P2", "Q1Q2", "R1R2", "S1S2"]);
    expect(peak).toBe(1);
  });

  it("after a reducer fails, the map job's signal aborts and its later sends go nowhere", async () => {
    const split = fname("split");
    const up = fname("up");
    const wt = tapper();
    const logger = memoryLogger();
    const w = res.worker({ concurrency: 2, tap: wt.tap, logger });
    let mapJob: Job | undefined;
    let done = false;
    w.defineFunction(split, partitioned({
      partition: async (job) => {
        mapJob = job;
        const parts = job.text().split(" ");
        for (let i = 0; i < parts.length; i++) {
          await job.sendData(parts[i]!);
          await sleep(100);
          job.sendStatus(i + 1, parts.length);
        }
        done = true;
      },
    }));
    w.defineFunction(up, (job) => (job.text() === "bad" ? GearmanReturn.FAIL : job.text().toUpperCase()));
    await w.start();
    const c = res.client();
    await expect(c.executeReduce(split, up, "bad b c", { timeout: 5000 })).rejects.toThrow();
    await waitFor(() => done, 3000, "the partition function's return");
    expect(mapJob!.signal.aborted).toBe(true);
    const mine = wt.packets.filter((p) => p.direction === "out" && p.packet.args.length > 0 && argText(p.packet, 0) === mapJob!.handle);
    const types = mine.map((p) => p.packet.type);
    expect(types.filter((t) => t === PacketType.WORK_FAIL)).toHaveLength(1);
    expect(types.slice(types.indexOf(PacketType.WORK_FAIL) + 1)).toEqual([]);
    expect(logger.messages.filter((m) => m.includes("JOB_NOT_FOUND"))).toEqual([]);
  });

  it("{ timeout } on a partition function aborts its signal, sends nothing late, and another run completes the job", async () => {
    const split = fname("split");
    const up = fname("up");
    const t0 = Date.now();
    let abortedAt = 0;
    const reduced: string[] = [];
    const w = res.worker({ concurrency: 2 });
    let runs = 0;
    w.defineFunction(split, partitioned({
      partition: async (job) => {
        if (++runs === 1) {
          await abortedOr(job, 4000);
          if (job.signal.aborted) abortedAt = Date.now() - t0;
          await job.sendData("late");
          return;
        }
        await job.sendData(job.text());
      },
    }), { timeout: 1000 });
    w.defineFunction(up, (job) => {
      reduced.push(job.text());
      return job.text().toUpperCase();
    });
    await w.start();
    const c = res.client();
    const out = c.submitReduce(split, up, "x", { timeout: 8000 });
    await waitFor(() => abortedAt > 0, 2500, "the first run's signal");
    expect(abortedAt).toBeLessThan(2000);
    expect(text(await out.result())).toBe("X");
    await sleep(100);
    expect(reduced).toEqual(["x"]);
  });
});

describe("a start() that rejected", () => {
  it("leaves nothing running, and a later start() connects and takes jobs", async () => {
    const fn = fname("restart");
    let target = "127.0.0.1:1"; // refused at once
    let attempts = 0;
    const connector = (): Connector => (signal) => {
      attempts++;
      return tcpConnector(target)(signal);
    };
    const w = res.worker({ connector, reconnectDelay: 50 });
    w.defineFunction(fn, () => "ran");
    await expect(w.start()).rejects.toThrow();
    const after = attempts;
    await sleep(400);
    expect(attempts).toBe(after); // no retry armed
    target = sharedServer();
    await w.start();
    expect(attempts).toBe(after + 1);
    expect(text(await res.client().execute(fn, "x", { timeout: 3000 }))).toBe("ran");
  });
});

describe("a server that accepts the connection and never answers", () => {
  async function silentServer(): Promise<string> {
    const sockets: Socket[] = [];
    const srv = createServer((s) => void sockets.push(s.on("error", () => {}))).listen(0, "127.0.0.1");
    await new Promise((r) => srv.once("listening", r));
    res.onCleanup(() => (sockets.forEach((s) => s.destroy()), srv.close()));
    return `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  }

  it("start() rejects with ConnectionError once the first GRAB goes unanswered for pollInterval + 1 s", async () => {
    const w = res.worker({ servers: [await silentServer()], pollInterval: 500 });
    w.defineFunction(fname("silent"), () => "x");
    const t0 = Date.now();
    const err = await w.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it("stop() during such a start() makes it reject with ClosedError", async () => {
    const w = res.worker({ servers: [await silentServer()], pollInterval: 10_000 });
    w.defineFunction(fname("silent"), () => "x");
    const started = w.start().catch((e: unknown) => e);
    await sleep(200);
    await w.stop();
    expect(await started).toBeInstanceOf(ClosedError);
  });

  it("next to a healthy server, its unanswered GRABs are taken back and the healthy server's jobs run", async () => {
    const fn = fname("silentmix");
    const w = res.worker({ servers: [await silentServer(), sharedServer()], pollInterval: 500, concurrency: 1 });
    w.defineFunction(fn, (job) => `ok:${job.text()}`);
    void w.start().catch(() => {});
    const c = res.client();
    const results = await Promise.all(["a", "b", "c"].map((x) => c.execute(fn, x, { timeout: 8000 })));
    expect(results.map(text)).toEqual(["ok:a", "ok:b", "ok:c"]);
  });
});

describe("a handler that throws a value with no string form", () => {
  it("Object.create(null), or an object whose toString throws, fails the job (plain and map), and the worker goes on", async () => {
    const nul = fname("nullproto");
    const bad = fname("badstr");
    const split = fname("split");
    const ok = fname("ok");
    const w = res.worker({ concurrency: 2 });
    w.defineFunction(nul, () => {
      throw Object.create(null);
    }, { exceptions: true });
    w.defineFunction(bad, async () => {
      throw { toString: () => { throw new Error("toString boom"); } };
    });
    w.defineFunction(split, partitioned({ partition: async () => { throw Object.create(null); } }));
    w.defineFunction(ok, () => "fine");
    await w.start();
    const c = res.client();
    await expect(c.execute(nul, "x", { timeout: 3000 })).rejects.toBeInstanceOf(JobExceptionError);
    await expect(c.execute(bad, "x", { timeout: 3000 })).rejects.toBeInstanceOf(JobFailedError);
    await expect(c.executeReduce(split, ok, "x", { timeout: 3000 })).rejects.toBeInstanceOf(JobFailedError);
    expect(text(await c.execute(ok, "x", { timeout: 3000 }))).toBe("fine");
    expect(w.running).toBe(0);
  });
});

describe("stop() clears every timer it armed", () => {
  it("after stop() the process holds no more Timeouts than before the worker: ERROR back-off and job timeout cleared", async () => {
    const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timeouts();
    const flaky = fname("flaky");
    const hang = fname("hang");
    const logger = memoryLogger();
    let runs = 0;
    let hanging = false;
    const w = res.worker({ concurrency: 2, logger });
    w.defineFunction(flaky, () => (++runs === 1 ? GearmanReturn.ERROR : "ok"));
    w.defineFunction(hang, () => ((hanging = true), new Promise<never>(() => {})), { timeout: 20_000 });
    await w.start();
    const c = res.client();
    const tasks = [c.submit(hang, "x"), c.submit(flaky, "x")];
    for (const t of tasks) t.result().catch(() => {});
    await waitFor(() => hanging && runs === 1, 3000, "both handlers");
    await waitFor(() => logger.messages.some((m) => m.includes("returned ERROR; retry in")), 3000, "the ERROR back-off");
    await c.close();
    await w.stop({ graceful: false });
    await new Promise((r) => setImmediate(r));
    expect(timeouts()).toBeLessThanOrEqual(before);
  });
});

describe("maxInFlight", () => {
  it("must be a positive integer (0 would hang the map job)", () => {
    const w = res.worker();
    for (const maxInFlight of [0, -1, 1.5, Number.NaN]) {
      expect(() => w.defineFunction(fname("m"), partitioned({ partition: () => {} }), { maxInFlight })).toThrow(InvalidArgumentError);
    }
    expect(() => w.defineFunction(fname("m"), partitioned({ partition: () => {} }), { maxInFlight: 1 })).not.toThrow();
  });
});
