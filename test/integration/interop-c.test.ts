// Node: interop with libgearman 1.1.20 peers written in C (issue #3): our worker under a C client, our client against a C worker.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GearmanReturn, JobExceptionError, JobFailedError, type Job, partitioned, type TaskEvent } from "../../src/node.ts";
import { buildInterop } from "../support/build-interop.ts";
import { type Gearmand, serverKind, startGearmand } from "../support/gearmand.ts";
import { interopHandler, runPeer, startPeer, stopPeers, waitForWorkers } from "../support/interop-peers.ts";
import { fname, Resources, text } from "./helpers.ts";

let bin: Awaited<ReturnType<typeof buildInterop>>;
let gearmand: Gearmand;
/** A second server with `--job-retries=2`, for the "ERROR forever" cases. */
let limited: Gearmand;
const res = new Resources();

beforeAll(async () => {
  [bin, gearmand, limited] = await Promise.all([
    buildInterop(),
    startGearmand({ args: ["--threads=0"] }),
    startGearmand({ args: ["--threads=0", "--job-retries=2"] }),
  ]);
}, 120_000);

afterEach(() => res.cleanup());

afterAll(async () => {
  await stopPeers();
  await Promise.all([gearmand?.stop(), limited?.stop()]);
});

interface CRun {
  ret: string;
  result: string | undefined;
  /** Task-mode event lines, in arrival order. */
  events: string[];
  code: number | null;
  stderr: string;
}

/** Runs interop_client against `server` and parses its line output (see the top of interop_client.c). */
async function cClient(server: Gearmand, args: string[], timeout = 15_000): Promise<CRun> {
  const run = await runPeer(bin.interop_client, ["-h", server.host, "-p", String(server.port), ...args], { timeout });
  if (run.timedOut) throw new Error(`interop_client ${args.join(" ")} hung: ${run.stdout}${run.stderr}`);
  const lines = run.stdout.split("\n").filter((l) => l !== "");
  const ret = lines.find((l) => l.startsWith("ret "));
  if (!ret) throw new Error(`interop_client ${args.join(" ")} printed no return code (exit ${run.code}): ${run.stdout}${run.stderr}`);
  const result = lines.find((l) => l.startsWith("result "));
  return {
    ret: ret.slice(4),
    result: result?.slice(7),
    events: lines.filter((l) => !l.startsWith("ret ") && !l.startsWith("result ") && !l.startsWith("created ")),
    code: run.code,
    stderr: run.stderr,
  };
}

/** Starts interop_worker with `-f NAME=KIND` specs and waits until gearmand lists every function. */
async function cWorker(server: Gearmand, specs: string[]): Promise<void> {
  startPeer(bin.interop_worker, ["-h", server.host, "-p", String(server.port), ...specs.flatMap((s) => ["-f", s])]);
  for (const s of specs) await waitForWorkers(server.address, s.split("=")[0]!);
}

function upper(job: Job): string | typeof GearmanReturn.FAIL {
  return job.text() === "fail" ? GearmanReturn.FAIL : `${job.text().toUpperCase()}.`;
}

async function splitWords(job: Job): Promise<void> {
  for (const word of job.text().split(" ").filter(Boolean)) await job.sendData(word);
}

describe("a libgearman client against our worker", () => {
  it("gearman_execute_by_partition runs our partition function and our reducer; the aggregate is in send order", async () => {
    const mapper = fname("ts_split");
    const reducer = fname("ts_upper");
    const w = res.worker({ servers: [gearmand.address], concurrency: 2 });
    w.defineFunction(reducer, upper);
    w.defineFunction(mapper, partitioned({ partition: splitWords, aggregate: (results) => results.map(text).join("") }));
    await w.start();
    const out = await cClient(gearmand, ["reduce", mapper, reducer, "alpha beta gamma"]);
    expect(out).toMatchObject({ ret: "GEARMAN_SUCCESS", result: "ALPHA.BETA.GAMMA.", code: 0 });
  });

  it("with libgearmanCompatible the aggregator sees libgearman's reverse order", async () => {
    const mapper = fname("ts_split_lg");
    const reducer = fname("ts_upper_lg");
    const w = res.worker({ servers: [gearmand.address], libgearmanCompatible: true });
    w.defineFunction(reducer, upper);
    w.defineFunction(mapper, partitioned({ partition: splitWords, aggregate: (results) => results.map(text).join("") }));
    await w.start();
    const out = await cClient(gearmand, ["reduce", mapper, reducer, "alpha beta gamma"]);
    expect(out).toMatchObject({ ret: "GEARMAN_SUCCESS", result: "GAMMA.BETA.ALPHA." });
  });

  it("a failing reducer job fails the whole map job with GEARMAN_WORK_FAIL", async () => {
    const mapper = fname("ts_split_f");
    const reducer = fname("ts_upper_f");
    const w = res.worker({ servers: [gearmand.address] });
    w.defineFunction(reducer, upper);
    w.defineFunction(mapper, partitioned({ partition: splitWords }));
    await w.start();
    const out = await cClient(gearmand, ["reduce", mapper, reducer, "alpha fail gamma"]);
    expect(out).toMatchObject({ ret: "GEARMAN_WORK_FAIL", code: 1 });
  });

  describe("gearman_client_do and add_task for each return code", () => {
    const fn = fname("ts_ret");
    const attempts = new Map<string, number>();
    // This worker lives for the whole block, so it is not in `res` (cleaned after each test).
    const block = new Resources();
    beforeAll(async () => {
      const w = block.worker({ servers: [gearmand.address], concurrency: 2 });
      w.defineFunction(fn, interopHandler(attempts));
      await w.start();
    });
    afterAll(() => block.cleanup());

    it("SUCCESS: a returned payload is the result", async () => {
      expect(await cClient(gearmand, ["do", fn, "SUCCESS"])).toMatchObject({ ret: "GEARMAN_SUCCESS", result: "ok", code: 0 });
    });

    it("SUCCESS: GearmanReturn.SUCCESS completes with an empty result", async () => {
      expect(await cClient(gearmand, ["do", fn, "EMPTY"])).toMatchObject({ ret: "GEARMAN_SUCCESS", result: "" });
    });

    it("sendData then a payload: gearman_client_do concatenates WORK_DATA and WORK_COMPLETE", async () => {
      expect(await cClient(gearmand, ["do", fn, "DATA"])).toMatchObject({ ret: "GEARMAN_SUCCESS", result: "d1done" });
    });

    it("warning and status reach the libgearman callbacks", async () => {
      const out = await cClient(gearmand, ["task", fn, "WARN"]);
      expect(out.ret).toBe("GEARMAN_SUCCESS");
      expect(out.events).toEqual(["warning careful", "status 1/2", "complete warned"]);
    });

    it("GearmanReturn.FAIL gives GEARMAN_WORK_FAIL", async () => {
      expect(await cClient(gearmand, ["do", fn, "FAIL"])).toMatchObject({ ret: "GEARMAN_WORK_FAIL", result: "", code: 1 });
    });

    it("a thrown error reaches the client as a warning, then FAIL, and nothing hangs (with and without exceptions)", async () => {
      for (const flags of [[], ["-e"]]) {
        const out = await cClient(gearmand, [...flags, "-t", "5000", "task", fn, "THROW"]);
        expect(out.events).toEqual(["warning ts boom", "fail"]);
        expect(out.ret).toBe("GEARMAN_WORK_FAIL");
        expect((await cClient(gearmand, [...flags, "-t", "5000", "do", fn, "THROW"])).ret).toBe("GEARMAN_WORK_FAIL");
      }
    });

    it("GearmanReturn.ERROR: the job goes back to gearmand and its second attempt completes", async () => {
      const out = await cClient(gearmand, ["do", fn, "ERROR_ONCE"]);
      expect(out).toMatchObject({ ret: "GEARMAN_SUCCESS", result: "attempt=2" });
    });
  });

  it("ERROR forever with --job-retries=2: the client gets GEARMAN_WORK_FAIL after two attempts", async () => {
    const fn = fname("ts_err");
    const attempts = new Map<string, number>();
    const w = res.worker({ servers: [limited.address] });
    w.defineFunction(fn, interopHandler(attempts));
    await w.start();
    const out = await cClient(limited, ["do", fn, "ERROR"]);
    expect(out).toMatchObject({ ret: "GEARMAN_WORK_FAIL", code: 1 });
    expect([...attempts.values()]).toEqual([2]);
  });

  it("exceptions: true sends WORK_EXCEPTION: a libgearman client with -e gets it; one without hangs on gearmand, gets WORK_FAIL on the embedded server", async () => {
    const fn = fname("ts_exc");
    const w = res.worker({ servers: [gearmand.address] });
    w.defineFunction(fn, () => {
      throw new Error("ts exception");
    }, { exceptions: true });
    await w.start();
    const withOption = await cClient(gearmand, ["-e", "-t", "5000", "task", fn, "x"]);
    expect(withOption.events).toEqual(["exception ts exception"]);
    expect(withOption.ret).toBe("GEARMAN_WORK_EXCEPTION");
    const without = await cClient(gearmand, ["-t", "1500", "task", fn, "x"]);
    if (serverKind() === "gearmand") {
      // gearmand turns the exception into WORK_FAIL("H:…\0") for this client; libgearman never matches
      // the NUL-suffixed handle, so only its own timeout ends the wait (protocol.md §6).
      expect(without.events).toEqual([]);
      expect(without.ret).toBe("GEARMAN_TIMEOUT");
    } else {
      // The embedded server sends a plain WORK_FAIL(handle) (server-differences.md #1): libgearman fails the task at once.
      expect(without.events).toEqual(["fail"]);
      expect(without.ret).toBe("GEARMAN_WORK_FAIL");
    }
  });
});

describe("our client against a libgearman worker", () => {
  const fn = fname("c_ret");
  const reducer = fname("c_upper");
  const mapper = fname("c_split");

  beforeAll(async () => {
    // The mapper must not share a worker with its reducer: one libgearman worker owning both deadlocks.
    await Promise.all([
      cWorker(gearmand, [`${fn}=ret`, `${reducer}=upper`]),
      cWorker(gearmand, [`${mapper}=split`]),
    ]);
  });

  it("executeReduce against a C partition function and a C reducer: libgearman's reverse order", async () => {
    const c = res.client({ servers: [gearmand.address] });
    expect(text(await c.executeReduce(mapper, reducer, "alpha beta gamma"))).toBe("GAMMA.BETA.ALPHA.");
  });

  it("executeReduce fails with JobFailedError when a C reducer job fails (libgearman sends the FAIL one loop late)", async () => {
    const c = res.client({ servers: [gearmand.address] });
    await expect(c.executeReduce(mapper, reducer, "alpha fail gamma", { timeout: 10_000 })).rejects.toBeInstanceOf(JobFailedError);
  });

  describe.each([true, false])("with exceptions: %s", (exceptions) => {
    it("SUCCESS: send_complete's payload, or empty when the function only returns GEARMAN_SUCCESS", async () => {
      const c = res.client({ servers: [gearmand.address], exceptions });
      expect(text(await c.execute(fn, "SUCCESS"))).toBe("ok");
      expect(text(await c.execute(fn, "SUCCESS:custom"))).toBe("custom");
      expect(text(await c.execute(fn, "EMPTY"))).toBe("");
      expect(text(await c.execute(fn, "DATA"))).toBe("d1done");
    });

    it("warning and status arrive as task events", async () => {
      const c = res.client({ servers: [gearmand.address], exceptions });
      const events: TaskEvent[] = [];
      const task = c.submit(fn, "WARN");
      task.on("*", (e) => events.push(e));
      expect(text(await task.result())).toBe("warned");
      expect(events.map((e) => (e.type === "warning" || e.type === "complete" ? `${e.type} ${text(e.data)}` : e.type === "status" ? `status ${e.numerator}/${e.denominator}` : e.type)))
        .toEqual(["created", "warning careful", "status 1/2", "complete warned"]);
    });

    it("GEARMAN_FAIL: JobFailedError", async () => {
      const c = res.client({ servers: [gearmand.address], exceptions });
      await expect(c.execute(fn, "FAIL", { timeout: 10_000 })).rejects.toBeInstanceOf(JobFailedError);
    });

    it("GEARMAN_ERROR: libgearman drops its connection, gearmand requeues, the second attempt completes", async () => {
      const c = res.client({ servers: [gearmand.address], exceptions });
      expect(text(await c.execute(fn, "ERROR_ONCE", { timeout: 10_000 }))).toBe("attempt=2");
    });

    it(`gearman_job_send_exception: ${exceptions ? "JobExceptionError with the text" : "WORK_FAIL with a NUL-suffixed handle, JobFailedError, no hang"}`, async () => {
      const c = res.client({ servers: [gearmand.address], exceptions });
      const outcome = c.execute(fn, "EXCEPTION", { timeout: 10_000 });
      if (exceptions) {
        const err = await outcome.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(JobExceptionError);
        expect((err as JobExceptionError).message).toContain("c exception");
      } else {
        await expect(outcome).rejects.toBeInstanceOf(JobFailedError);
      }
    });
  });

  it("GEARMAN_ERROR forever with --job-retries=2: JobFailedError once gearmand gives up", async () => {
    const name = fname("c_err");
    await cWorker(limited, [`${name}=ret`]);
    const c = res.client({ servers: [limited.address] });
    await expect(c.execute(name, "ERROR", { timeout: 10_000 })).rejects.toBeInstanceOf(JobFailedError);
  });
});

describe("the benchmark's C pair (test/bench/c: bench_client, bench_worker)", () => {
  const bench = (args: string[]) => runPeer(bin.bench_client, ["-h", gearmand.host, "-p", String(gearmand.port), ...args], { timeout: 30_000 });
  const run = async (args: string[]): Promise<Record<string, unknown>> => {
    const r = await bench(args);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  it("bench_client against bench_worker: throughput and latency lines, every echo intact", async () => {
    const fn = fname("bench_c");
    startPeer(bin.bench_worker, ["-h", gearmand.host, "-p", String(gearmand.port), "-f", fn, "-t", "2"]);
    await waitForWorkers(gearmand.address, fn, 2);
    expect(await run(["-f", fn, "-m", "throughput", "-n", "500", "-i", "50"])).toMatchObject({ mode: "throughput", jobs: 500, bad: 0, ok: true });
    const l = await run(["-f", fn, "-m", "latency", "-n", "50"]);
    expect(l).toMatchObject({ mode: "latency", jobs: 50, bad: 0 });
    expect(l.p50).toBeGreaterThan(0);
    expect(l.p99).toBeGreaterThanOrEqual(l.p50 as number);
  });

  it("every bench_client mode against our echo worker, and our client against bench_worker", async () => {
    const ours = fname("bench_ts");
    const w = res.worker({ servers: [gearmand.address], concurrency: 50 });
    w.defineFunction(ours, (job) => job.workload);
    await w.start();
    expect(await run(["-f", ours, "-m", "throughput", "-n", "500", "-i", "50", "-s", "1000"])).toMatchObject({ jobs: 500, bad: 0, ok: true });
    expect(await run(["-f", ours, "-m", "big", "-s", String(4 << 20)])).toMatchObject({ mode: "big", intact: true, bytes: 4 << 20 });
    expect(await run(["-f", ours, "-m", "bg", "-n", "200"])).toMatchObject({ mode: "bg", jobs: 200, ok: true });

    const theirs = fname("bench_cw");
    startPeer(bin.bench_worker, ["-h", gearmand.host, "-p", String(gearmand.port), "-f", theirs, "-t", "1"]);
    await waitForWorkers(gearmand.address, theirs);
    const c = res.client({ servers: [gearmand.address] });
    const payloads = Array.from({ length: 200 }, (_, i) => `job-${i}`);
    expect((await Promise.all(payloads.map((p) => c.execute(theirs, p)))).map(text)).toEqual(payloads);
  });
});
