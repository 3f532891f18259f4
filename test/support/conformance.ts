// Runtime-agnostic: no Node, Deno or DOM APIs (only type imports of the SDK). Bundled for Chromium by
// test/browser/conformance.test.ts, so it must not import anything at run time.
/**
 * ONE conformance suite for every transport (the MQTT.js `abstract_client` idea): the same client
 * and worker behaviour over Node TCP, WebSocket through the bridge from Node (`ws`), Deno TCP,
 * Deno WebSocket and Chromium's WebSocket. A runner passes the entry module it tests (`sdk`), the
 * servers and the per-transport options; every case creates and closes its own Client and Worker.
 *
 * Runners: test/integration/conformance.test.ts (node-tcp, node-ws-bridge),
 * test/deno/conformance.test.ts (deno-tcp, deno-ws-bridge), test/browser/conformance.test.ts
 * (chromium-ws-bridge).
 * @module
 */
import type {
  BaseClient, BaseWorker, ClientOptions, ClosedError, GearmanError, GearmanReturn, JobExceptionError, JobFailedError, Logger, partitioned,
  TaskEvent, WorkerOptions,
} from "../../src/mod.ts";

/** What the suite needs from an entry module (`src/node.ts`, `src/deno.ts`, the browser bundle's `Gearman`). */
export interface ConformanceSdk {
  Client: new (options: ClientOptions) => BaseClient;
  Worker: new (options: WorkerOptions) => BaseWorker;
  GearmanReturn: typeof GearmanReturn;
  partitioned: typeof partitioned;
  GearmanError: typeof GearmanError;
  JobFailedError: typeof JobFailedError;
  JobExceptionError: typeof JobExceptionError;
  ClosedError: typeof ClosedError;
}

/** What a runner provides for one transport. */
export interface ConformanceSetup {
  /** The entry module under test. */
  sdk: ConformanceSdk;
  /** Server addresses for every Client and Worker (`host:port`, `ws://…`). */
  servers: string[];
  /** Merged into every Client and Worker's options (e.g. `{ token }` for the bridge). */
  options?: { token?: string };
  /** Function-name prefix of this run; the bridge policy allows `<prefix>.*`. */
  prefix: string;
}

/** Minimal assertions (no node:assert in the browser); each throws an Error with a readable message. */
export interface Assert {
  ok(value: unknown, message?: string): void;
  equal<T>(actual: T, expected: T, message?: string): void;
  deepEqual(actual: unknown, expected: unknown, message?: string): void;
  bytesEqual(actual: Uint8Array, expected: Uint8Array, message?: string): void;
  /** Awaits `promise`, expecting a rejection that is an instance of `cls`; returns the error. */
  rejects<E>(promise: Promise<unknown>, cls: abstract new (...args: never[]) => E, message?: string): Promise<E>;
}

/** What every case gets. */
export interface ConformanceContext extends ConformanceSetup {
  /** A function name unique to this run, inside the prefix: `<prefix>.<name>_<n>_<random>`. */
  fname(name: string): string;
  assert: Assert;
  sleep(ms: number): Promise<void>;
  /** Polls `cond` every 10 ms until truthy; throws after `timeout` ms. */
  waitFor<T>(cond: () => T | Promise<T>, timeout?: number, what?: string): Promise<NonNullable<T>>;
  /** A Client with the runner's options and a recording logger; closed after the case. */
  client(options?: Partial<ClientOptions>): BaseClient;
  /** A Worker with the runner's options and a recording logger; stopped after the case. */
  worker(options?: Partial<WorkerOptions>): BaseWorker;
}

/** One case of the suite. */
export interface ConformanceCase {
  name: string;
  run(ctx: ConformanceSetup): Promise<void>;
}

/** The result of one case, as {@link runConformance} reports it. */
export interface ConformanceResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// Assertions

const show = (v: unknown): string => {
  if (v instanceof Uint8Array) return v.length > 32 ? `Uint8Array(${v.length})[${[...v.subarray(0, 32)].join(",")},…]` : `Uint8Array[${[...v].join(",")}]`;
  try {
    return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `<bytes ${[...x].join(",")}>` : x)) ?? String(v);
  } catch {
    return String(v);
  }
};

function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (typeof a === "object" && typeof b === "object" && a !== null && b !== null) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return same(ka, kb) && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

const fail = (message: string | undefined, detail: string): never => {
  throw new Error(message ? `${message}: ${detail}` : detail);
};

/** The assertions, usable on their own. */
export const assert: Assert = {
  ok(value, message) {
    if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
  },
  equal(actual, expected, message) {
    if (!Object.is(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
  },
  deepEqual(actual, expected, message) {
    if (!same(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
  },
  bytesEqual(actual, expected, message) {
    if (actual.length !== expected.length) fail(message, `expected ${expected.length} bytes, got ${actual.length}`);
    for (let i = 0; i < actual.length; i++) {
      if (actual[i] !== expected[i]) fail(message, `bytes differ first at offset ${i}: expected ${expected[i]}, got ${actual[i]}`);
    }
  },
  async rejects(promise, cls, message) {
    let settled: { value: unknown } | { error: unknown };
    try {
      settled = { value: await promise };
    } catch (error) {
      settled = { error };
    }
    if ("value" in settled) return fail(message, `expected a rejection with ${cls.name}, but it resolved with ${show(settled.value)}`);
    const e = settled.error;
    if (!(e instanceof cls)) {
      const got = e instanceof Error ? `${e.name}: ${e.message}` : show(e);
      return fail(message, `expected a rejection with ${cls.name}, got ${got}`);
    }
    return e;
  },
};

// ---------------------------------------------------------------------------------------------
// Context

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (b: Uint8Array): string => dec.decode(b);
let counter = 0;

async function waitFor<T>(cond: () => T | Promise<T>, timeout = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Wraps a case body: it gets a context whose clients and workers are closed afterwards, and whose
 * logger records warnings and errors. Any warning or error the SDK logged fails the case: none of
 * these behaviours should produce one on any transport.
 */
function scoped(body: (ctx: ConformanceContext) => Promise<void>): (setup: ConformanceSetup) => Promise<void> {
  return async (setup) => {
    const closers: (() => Promise<void>)[] = [];
    const logged: string[] = [];
    const logger: Logger = {
      warn: (m: string) => void logged.push(`warn: ${m}`),
      error: (m: string) => void logged.push(`error: ${m}`),
    };
    const ctx: ConformanceContext = {
      ...setup,
      fname: (name) => `${setup.prefix}.${name}_${++counter}_${Math.random().toString(36).slice(2, 8)}`,
      assert,
      sleep,
      waitFor,
      client(options = {}) {
        const c = new setup.sdk.Client({ servers: setup.servers, ...setup.options, logger, ...options });
        closers.push(() => c.close());
        return c;
      },
      worker(options = {}) {
        const w = new setup.sdk.Worker({ servers: setup.servers, ...setup.options, logger, ...options });
        closers.push(() => w.stop({ graceful: false }));
        return w;
      },
    };
    let failure: unknown;
    try {
      await body(ctx);
    } catch (e) {
      failure = e;
    }
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (e) {
        failure ??= new Error(`cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (failure) throw failure;
    if (logged.length > 0) throw new Error(`the SDK logged unexpectedly:\n${logged.join("\n")}`);
  };
}

const conformanceCase = (name: string, body: (ctx: ConformanceContext) => Promise<void>): ConformanceCase => ({ name, run: scoped(body) });

// ---------------------------------------------------------------------------------------------
// Shared fixtures

/** A worker function that streams data, status and a warning, then completes with "end". */
async function streamingWorker(ctx: ConformanceContext, fn: string): Promise<void> {
  const w = ctx.worker();
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

const describeEvent = (e: TaskEvent): string => {
  switch (e.type) {
    case "data": return `data:${[...e.data].join(",")}`;
    case "warning": return `warning:${text(e.data)}`;
    case "status": return `status:${e.numerator}/${e.denominator}`;
    case "complete": return `complete:${text(e.data)}`;
    case "exception": return `exception:${text(e.data)}`;
    default: return e.type;
  }
};
const STREAMED = ["created", "data:97", "status:1/3", "warning:careful", "data:0,255,0", "status:2/3", "complete:end"];

/** `n` bytes holding every byte value (first 0..255 in order, then a pseudo-random sequence). */
function everyByte(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i < 256 ? i : x >>> 24;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The cases

/** Every case, in the order runners should run them. */
export const conformanceCases: ConformanceCase[] = [
  conformanceCase("round trip: data, status and warning events by callback", async (ctx) => {
    const fn = ctx.fname("stream_cb");
    await streamingWorker(ctx, fn);
    const task = ctx.client().submit(fn, "x");
    const all: string[] = [];
    const statuses: string[] = [];
    task.on("*", (e) => all.push(describeEvent(e)));
    task.on("status", (e) => statuses.push(`${e.numerator}/${e.denominator}`));
    ctx.assert.equal(text(await task.result()), "end", "result()");
    ctx.assert.deepEqual(all, STREAMED, "events");
    ctx.assert.deepEqual(statuses, ["1/3", "2/3"], "typed status listener");
    ctx.assert.ok(task.handle?.startsWith("H:"), `handle ${task.handle}`);
  }),

  conformanceCase("round trip: the same events by for-await, ending after the terminal event", async (ctx) => {
    const fn = ctx.fname("stream_it");
    await streamingWorker(ctx, fn);
    const task = ctx.client().submit(fn, "x");
    const all: string[] = [];
    for await (const e of task) all.push(describeEvent(e));
    ctx.assert.deepEqual(all, STREAMED, "events");
    ctx.assert.equal(task.done, true, "task.done");
  }),

  conformanceCase("execute concatenates every WORK_DATA and the WORK_COMPLETE payload", async (ctx) => {
    const fn = ctx.fname("exec");
    await streamingWorker(ctx, fn);
    const c = ctx.client();
    ctx.assert.deepEqual([...(await c.execute(fn, "x"))], [97, 0, 255, 0, 101, 110, 100], "execute()");
    ctx.assert.equal(text(await c.submit(fn, "x").result()), "end", "result() is the WORK_COMPLETE payload only");
  }),

  conformanceCase("FAIL rejects with JobFailedError carrying the warnings", async (ctx) => {
    const fn = ctx.fname("fail");
    const w = ctx.worker();
    w.defineFunction(fn, (job) => {
      job.sendWarning("w1");
      job.sendWarning("w2");
      return ctx.sdk.GearmanReturn.FAIL;
    });
    await w.start();
    const c = ctx.client();
    const task = c.submit(fn, "x");
    const events: string[] = [];
    task.on("*", (e) => events.push(e.type));
    const err = await ctx.assert.rejects(task.result(), ctx.sdk.JobFailedError);
    ctx.assert.deepEqual(err.warnings.map(text), ["w1", "w2"], "warnings");
    ctx.assert.equal(err.handle, task.handle, "handle");
    ctx.assert.ok(err instanceof ctx.sdk.GearmanError, "a GearmanError");
    ctx.assert.deepEqual(events, ["created", "warning", "warning", "fail"], "events");
    await ctx.assert.rejects(c.execute(fn, "x"), ctx.sdk.JobFailedError, "execute()");
  }),

  conformanceCase("a thrown error becomes a warning and JobFailedError", async (ctx) => {
    const fn = ctx.fname("thrown");
    const w = ctx.worker();
    w.defineFunction(fn, () => {
      throw new Error("plain boom");
    });
    await w.start();
    const task = ctx.client().submit(fn, "x");
    const events: string[] = [];
    task.on("*", (e) => events.push(describeEvent(e)));
    const err = await ctx.assert.rejects(task.result(), ctx.sdk.JobFailedError);
    ctx.assert.deepEqual(err.warnings.map(text), ["plain boom"], "warnings");
    ctx.assert.deepEqual(events, ["created", "warning:plain boom", "fail"], "events");
  }),

  conformanceCase("exceptions:true: a thrown error reaches the client as JobExceptionError", async (ctx) => {
    const fn = ctx.fname("exception");
    const w = ctx.worker();
    w.defineFunction(fn, () => {
      throw new Error("kaboom");
    }, { exceptions: true });
    await w.start();
    const task = ctx.client().submit(fn, "x");
    const events: string[] = [];
    task.on("*", (e) => events.push(describeEvent(e)));
    const err = await ctx.assert.rejects(task.result(), ctx.sdk.JobExceptionError);
    ctx.assert.equal(err.text, "kaboom", "text");
    ctx.assert.equal(err.handle, task.handle, "handle");
    ctx.assert.deepEqual(events, ["created", "exception:kaboom"], "events");
  }),

  conformanceCase("binary payloads: all 256 byte values and 1 MiB arrive intact both ways", async (ctx) => {
    const fn = ctx.fname("binary");
    const received: Uint8Array[] = [];
    const w = ctx.worker();
    const plain: boolean[] = [];
    w.defineFunction(fn, (job) => {
      // A plain Uint8Array everywhere: a Node Buffer's slice() would share memory instead of copying.
      plain.push(Object.getPrototypeOf(job.workload) === Uint8Array.prototype);
      received.push(job.workload.slice());
      return job.workload.slice().reverse();
    });
    await w.start();
    const c = ctx.client();
    const small = everyByte(256);
    const out = await c.submit(fn, small).result();
    ctx.assert.bytesEqual(received[0]!, small, "256 values at the worker");
    ctx.assert.bytesEqual(out, small.slice().reverse(), "256 values back at the client");
    const big = everyByte(1 << 20);
    const bigOut = await c.submit(fn, big).result();
    ctx.assert.bytesEqual(received[1]!, big, "1 MiB at the worker");
    ctx.assert.bytesEqual(bigOut, big.slice().reverse(), "1 MiB back at the client");
    ctx.assert.deepEqual(plain, [true, true], "workloads are plain Uint8Arrays");
    ctx.assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype, "results are plain Uint8Arrays");
    // And through execute(): WORK_DATA of every byte value, concatenated.
    const fn2 = ctx.fname("binary_data");
    w.defineFunction(fn2, async (job) => {
      await job.sendData(job.workload.subarray(0, 128));
      await job.sendData(job.workload.subarray(128));
      return new Uint8Array(0);
    });
    ctx.assert.bytesEqual(await c.execute(fn2, small), small, "WORK_DATA chunks");
  }),

  conformanceCase("200 pipelined tasks on one client all complete with their own results", async (ctx) => {
    const fn = ctx.fname("pipeline");
    const w = ctx.worker({ concurrency: 8 });
    w.defineFunction(fn, (job) => `r${job.text()}`);
    await w.start();
    const c = ctx.client();
    const tasks = Array.from({ length: 200 }, (_, i) => c.submit(fn, String(i)));
    const results = await Promise.all(tasks.map((t) => t.result()));
    ctx.assert.deepEqual(results.map(text), Array.from({ length: 200 }, (_, i) => `r${i}`), "results");
    ctx.assert.equal(new Set(tasks.map((t) => t.handle)).size, 200, "distinct handles");
  }),

  conformanceCase("a background job: getStatus while queued, running with progress, and after", async (ctx) => {
    const fn = ctx.fname("background");
    const c = ctx.client();
    const handle = await c.submitBackground(fn, "x");
    ctx.assert.deepEqual(await c.getStatus(handle), { handle, known: true, running: false, numerator: 0, denominator: 0 }, "queued");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = ctx.worker();
    w.defineFunction(fn, async (job) => {
      job.sendStatus(3, 10);
      await gate;
    });
    await w.start();
    const running = await ctx.waitFor(async () => {
      const s = await c.getStatus(handle);
      return s.running && s.numerator === 3 ? s : undefined;
    }, 5000, "running status");
    ctx.assert.deepEqual(running, { handle, known: true, running: true, numerator: 3, denominator: 10 }, "running");
    release();
    await ctx.waitFor(async () => !(await c.getStatus(handle)).known, 5000, "the job to end");
    ctx.assert.deepEqual(await c.getStatus(handle), { handle, known: false, running: false, numerator: 0, denominator: 0 }, "done");
  }),

  conformanceCase("unique coalescing: two clients share one job, which runs once", async (ctx) => {
    const fn = ctx.fname("coalesce");
    const unique = `u${Math.random().toString(36).slice(2, 10)}`;
    const c1 = ctx.client();
    const c2 = ctx.client();
    const a = c1.submit(fn, "payload-a", { unique });
    await a.created();
    const b = c2.submit(fn, "payload-b", { unique });
    await b.created();
    ctx.assert.equal(b.handle, a.handle, "one handle");
    const q = await c1.getStatusUnique(unique);
    ctx.assert.deepEqual(q, { unique, known: true, running: false, numerator: 0, denominator: 0, waiting: 2 }, "getStatusUnique");
    const runs: string[] = [];
    const w = ctx.worker();
    w.defineFunction(fn, (job) => {
      runs.push(job.text());
      return `ran ${job.text()}`;
    });
    await w.start();
    ctx.assert.equal(text(await a.result()), "ran payload-a", "first client");
    ctx.assert.equal(text(await b.result()), "ran payload-a", "second client");
    ctx.assert.deepEqual(runs, ["payload-a"], "runs");
    ctx.assert.equal((await c2.getStatusUnique(unique)).known, false, "gone afterwards");
  }),

  conformanceCase("priorities: queued high, normal, low jobs run in that order on a concurrency-1 worker", async (ctx) => {
    const fn = ctx.fname("priority");
    const c = ctx.client();
    const order = ["low1", "normal1", "high1", "low2", "high2"];
    const prio = (name: string) => (name.startsWith("low") ? "low" : name.startsWith("high") ? "high" : "normal") as "low" | "normal" | "high";
    // Foreground and background share the queues: half of each.
    const tasks = order.map((name, i) => (i % 2 === 0 ? c.submit(fn, name, { priority: prio(name) }) : undefined));
    const bg = order.map((name, i) => (i % 2 === 1 ? c.submitBackground(fn, name, { priority: prio(name) }) : undefined));
    await Promise.all([...tasks.map((t) => t?.created()), ...bg]);
    const ran: string[] = [];
    const w = ctx.worker({ concurrency: 1 });
    w.defineFunction(fn, async (job) => {
      ran.push(job.text());
      await ctx.sleep(5);
      return job.text();
    });
    await w.start();
    await ctx.waitFor(() => ran.length === 5, 5000, "five jobs");
    ctx.assert.deepEqual(ran, ["high1", "high2", "normal1", "low1", "low2"], "run order");
    for (const [i, t] of tasks.entries()) if (t) ctx.assert.equal(text(await t.result()), order[i], `result of ${order[i]}`);
  }),

  conformanceCase("ERROR gives the job back: it runs again on the lone worker and completes", async (ctx) => {
    const fn = ctx.fname("error");
    let attempts = 0;
    const w = ctx.worker();
    w.defineFunction(fn, () => (++attempts === 1 ? ctx.sdk.GearmanReturn.ERROR : "second try"));
    await w.start();
    const task = ctx.client().submit(fn, "x", { timeout: 10_000 });
    const events: string[] = [];
    task.on("*", (e) => events.push(e.type));
    ctx.assert.equal(text(await task.result()), "second try", "result");
    ctx.assert.equal(attempts, 2, "attempts");
    ctx.assert.deepEqual(events, ["created", "complete"], "events");
  }),

  conformanceCase("map/reduce: executeReduce partitions, reduces and aggregates in send order on one worker", async (ctx) => {
    const mapper = ctx.fname("map");
    const reducer = ctx.fname("count");
    const w = ctx.worker({ concurrency: 4 });
    const partitions: string[] = [];
    w.defineFunction(mapper, ctx.sdk.partitioned({
      partition: async (job) => {
        for (const line of job.text().split("\n")) await job.sendData(line);
      },
      aggregate: (results) => {
        partitions.push(results.map(text).join(","));
        return String(results.reduce((sum, r) => sum + Number(text(r)), 0));
      },
    }));
    // Short lines finish last, so completion order differs from send order.
    w.defineFunction(reducer, async (job) => {
      const words = job.text().split(/\s+/).filter(Boolean).length;
      await ctx.sleep((5 - words) * 20);
      return String(words);
    });
    await w.start();
    const input = "one two three\nfour five\nsix\nseven eight nine ten";
    const out = await ctx.client().executeReduce(mapper, reducer, input, { timeout: 15_000 });
    ctx.assert.equal(text(out), "10", "aggregate");
    ctx.assert.deepEqual(partitions, ["3,2,1,4"], "reducer results in send order");
  }),

  conformanceCase("worker concurrency: N jobs at once, never more", async (ctx) => {
    const fn = ctx.fname("concurrency");
    const N = 3;
    let now = 0;
    let max = 0;
    const w = ctx.worker({ concurrency: N });
    w.defineFunction(fn, async (job) => {
      now++;
      max = Math.max(max, now);
      await ctx.sleep(80);
      now--;
      return job.text();
    });
    await w.start();
    const c = ctx.client();
    const started = Date.now();
    const out = await Promise.all(Array.from({ length: 12 }, (_, i) => c.execute(fn, String(i))));
    ctx.assert.deepEqual(out.map(text), Array.from({ length: 12 }, (_, i) => String(i)), "results");
    ctx.assert.equal(max, N, "most jobs at once");
    // 12 jobs of 80 ms at 3 at a time take at least 4 rounds.
    ctx.assert.ok(Date.now() - started >= 4 * 80 - 10, `took ${Date.now() - started} ms`);
  }),

  conformanceCase("echo returns identical bytes", async (ctx) => {
    const c = ctx.client();
    const bytes = new Uint8Array([0, 1, 2, 0, 255, 0x0d, 0x0a]);
    ctx.assert.bytesEqual(await c.echo(bytes), bytes, "binary");
    ctx.assert.equal(text(await c.echo("héllo")), "héllo", "UTF-8");
    ctx.assert.equal((await c.echo("")).length, 0, "empty");
    ctx.assert.bytesEqual(await c.echo(everyByte(64 << 10)), everyByte(64 << 10), "64 KiB");
  }),

  conformanceCase("close() rejects pending tasks with ClosedError, and later submits too", async (ctx) => {
    const fn = ctx.fname("closing");
    const c = ctx.client();
    const queued = c.submit(fn, "never runs");
    await queued.created();
    const fresh = c.submit(fn, "just sent");
    const closing = c.close();
    await ctx.assert.rejects(queued.result(), ctx.sdk.ClosedError, "a created task");
    await ctx.assert.rejects(fresh.result(), ctx.sdk.ClosedError, "a task in flight");
    await closing;
    await ctx.assert.rejects(c.execute(fn, enc.encode("after")), ctx.sdk.ClosedError, "execute() after close");
    await ctx.assert.rejects(c.submitBackground(fn, "after"), ctx.sdk.ClosedError, "submitBackground() after close");
  }),
];

/** Runs one case, failing it when it takes longer than `timeoutMs`. */
export async function runCase(c: ConformanceCase, setup: ConformanceSetup, timeoutMs = 30_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`"${c.name}" did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([c.run(setup), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every case (or those whose names `only` lists) one after another and reports each. */
export async function runConformance(setup: ConformanceSetup, options: { timeoutMs?: number; only?: string[] } = {}): Promise<ConformanceResult[]> {
  const out: ConformanceResult[] = [];
  for (const c of conformanceCases) {
    if (options.only && !options.only.includes(c.name)) continue;
    const t0 = Date.now();
    try {
      await runCase(c, setup, options.timeoutMs);
      out.push({ name: c.name, ok: true, ms: Date.now() - t0 });
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}${e.stack ? `\n${e.stack}` : ""}` : String(e);
      out.push({ name: c.name, ok: false, ms: Date.now() - t0, error });
    }
  }
  return out;
}
