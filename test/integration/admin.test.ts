// Node: AdminClient against a private real gearmand (the admin text protocol, protocol.md §8).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AdminClient, AdminCommandError, JobFailedError, ServerError } from "../../src/node.ts";
import { freePort, type Gearmand, startGearmand } from "../support/gearmand.ts";
import { fname, gate, Resources, waitFor } from "./helpers.ts";

let g: Gearmand;
let admin: AdminClient;
const res = new Resources();

beforeAll(async () => {
  g = await startGearmand();
  admin = new AdminClient({ server: g.address });
});
afterAll(async () => {
  await admin.close();
  await g.stop();
});
afterEach(() => res.cleanup());

const on = () => ({ servers: [g.address] });

describe("AdminClient", () => {
  it("connects again after a failed connect, once gearmand is up", async () => {
    const port = await freePort();
    const late = new AdminClient({ server: `127.0.0.1:${port}` });
    try {
      await expect(late.version()).rejects.toThrow(/127\.0\.0\.1/);
      const up = await res.gearmand({ port, real: true });
      expect(up.port).toBe(port);
      expect(await late.version()).toMatch(/^1\.1\.20/);
    } finally {
      await late.close();
    }
  });

  it("version, getpid and verbose", async () => {
    expect(await admin.version()).toMatch(/^1\.1\.20/);
    expect(await admin.getpid()).toBe(g.pid);
    expect(await admin.verbose()).toBe("INFO");
  });

  it("status counts queued and running jobs and workers per function", async () => {
    const busy = fname("busy");
    const idle = fname("idle");
    const release = gate();
    const started = gate();
    const w = res.worker(on());
    w.defineFunction(busy, async () => {
      started.resolve();
      await release.promise;
    });
    await w.start();
    const c = res.client(on());
    await c.submitBackground(idle, "a");
    await c.submitBackground(idle, "b");
    const task = c.submit(busy, "x");
    await started.promise;
    const rows = await admin.status();
    expect(rows.find((r) => r.name === idle)).toEqual({ name: idle, total: 2, running: 0, workers: 0 });
    expect(rows.find((r) => r.name === busy)).toEqual({ name: busy, total: 1, running: 1, workers: 1 });
    release.resolve();
    await task.result();
    expect((await admin.status()).find((r) => r.name === busy)).toEqual({ name: busy, total: 0, running: 0, workers: 1 });
  });

  it("prioritystatus counts queued jobs per priority", async () => {
    const fn = fname("prio");
    const c = res.client(on());
    const subs: Promise<string>[] = [];
    for (const [p, n] of [["high", 2], ["normal", 1], ["low", 3]] as const) {
      for (let i = 0; i < n; i++) subs.push(c.submitBackground(fn, `${p}${i}`, { priority: p }));
    }
    await Promise.all(subs);
    expect((await admin.priorityStatus()).find((r) => r.name === fn)).toEqual({ name: fn, high: 2, normal: 1, low: 3, workers: 0 });
  });

  it("workers lists the client id and functions of each worker connection", async () => {
    const a = fname("wa");
    const b = fname("wb");
    const id = fname("admin-worker");
    const w = res.worker({ ...on(), clientId: id });
    w.defineFunction(a, () => "a").defineFunction(b, () => "b");
    await w.start();
    const row = await waitFor(async () => (await admin.workers()).find((r) => r.clientId === id && r.functions.length === 2), 3000, "worker row");
    expect(row.functions.sort()).toEqual([a, b].sort());
    expect(row.ip).toBe("127.0.0.1");
    expect(row.fd).toBeGreaterThan(0);
    // the admin connection itself is listed, without id or functions
    expect((await admin.workers()).some((r) => r.clientId === "-" && r.functions.length === 0)).toBe(true);
  });

  it("show jobs and show unique jobs list queued jobs", async () => {
    const fn = fname("show");
    const c = res.client(on());
    const u1 = fname("uq");
    const h1 = await c.submitBackground(fn, "1", { unique: u1 });
    const h2 = await c.submitBackground(fn, "2");
    const jobs = await admin.showJobs();
    expect(jobs.find((j) => j.handle === h1)).toMatchObject({ handle: h1, retries: 0, ignore: false });
    expect(jobs.find((j) => j.handle === h2)).toMatchObject({ handle: h2, retries: 0, ignore: false });
    expect(await admin.showUniqueJobs()).toContain(u1);
  });

  it("cancel job fails the foreground client with JobFailedError and flags the job", async () => {
    const fn = fname("cancel");
    const c = res.client(on());
    const task = c.submit(fn, "x");
    const handle = await task.created();
    await admin.cancelJob(handle);
    await expect(task.result()).rejects.toBeInstanceOf(JobFailedError);
    expect((await admin.showJobs()).find((j) => j.handle === handle)?.ignore).toBe(true);
    // the cancelled job is reaped when a worker grabs it and never runs
    let ran = false;
    const w = res.worker(on());
    w.defineFunction(fn, () => void (ran = true));
    await w.start();
    const c2 = res.client(on());
    await c2.execute(fn, "after");
    expect(ran).toBe(true);
    await waitFor(async () => !(await admin.showJobs()).some((j) => j.handle === handle), 3000, "cancelled job reaped");
  });

  it("cancel of an unknown job is an AdminCommandError UNKNOWN_JOB", async () => {
    const err = await admin.cancelJob("H:nowhere:999999").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminCommandError);
    expect((err as AdminCommandError).adminCode).toBe("UNKNOWN_JOB");
    // the connection is still in step
    expect(await admin.version()).toMatch(/^1\.1\.20/);
  });

  it("maxqueue limits per priority and resets", async () => {
    const fn = fname("mq");
    await admin.createFunction(fn);
    await admin.maxQueue(fn, [1, 3, 3]);
    const c = res.client(on());
    const r = await Promise.allSettled([
      c.submitBackground(fn, "h1", { priority: "high" }),
      c.submitBackground(fn, "h2", { priority: "high" }),
      c.submitBackground(fn, "n1"),
    ]);
    expect(r.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(((r[1] as PromiseRejectedResult).reason as ServerError).serverCode).toBe("QUEUE_ERROR");
    await admin.maxQueue(fn);
    expect(await c.submitBackground(fn, "h3", { priority: "high" })).toMatch(/^H:/);
    expect((await admin.command("maxqueue"))[0]).toMatch(/^ERR INVALID_ARGUMENTS/);
  });

  it("create function and drop function", async () => {
    const fn = fname("cf");
    await admin.createFunction(fn);
    expect((await admin.status()).find((r) => r.name === fn)).toEqual({ name: fn, total: 0, running: 0, workers: 0 });
    await admin.dropFunction(fn);
    expect((await admin.status()).some((r) => r.name === fn)).toBe(false);
    const missing = await admin.dropFunction(fn).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AdminCommandError);
    // a function with a connected worker cannot be dropped
    const held = fname("held");
    const w = res.worker(on());
    w.defineFunction(held, () => "x");
    await w.start();
    await waitFor(async () => (await admin.status()).some((r) => r.name === held && r.workers === 1), 3000, "registered");
    await expect(admin.dropFunction(held)).rejects.toBeInstanceOf(AdminCommandError);
  });

  it("pipelined commands get their own answers, and unknown commands answer ERR", async () => {
    const [status, version, workers, pid, raw] = await Promise.all([
      admin.status(), admin.version(), admin.workers(), admin.getpid(), admin.command("bogus"),
    ]);
    expect(Array.isArray(status)).toBe(true);
    expect(version).toMatch(/^1\.1\.20/);
    expect(workers.length).toBeGreaterThan(0);
    expect(pid).toBe(g.pid);
    expect(raw[0]).toMatch(/^ERR UNKNOWN_COMMAND/);
  });

  it("a closed admin client rejects further commands", async () => {
    const a = new AdminClient({ server: g.address });
    expect(await a.version()).toMatch(/^1\.1\.20/);
    await a.close();
    await expect(a.status()).rejects.toThrow();
  });
});
