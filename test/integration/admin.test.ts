// Node: AdminClient against a private real gearmand (the admin text protocol, protocol.md §8).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AbortError, AdminClient, AdminCommandError, ClosedError, ConnectionError, InvalidArgumentError, JobFailedError, ProtocolError,
  type ServerError, TimeoutError,
} from "../../src/node.ts";
import { encodePacket } from "../../src/protocol/packet.ts";
import { PacketType as P } from "../../src/protocol/packet-types.ts";
import { freePort, type Gearmand, startGearmand } from "../support/gearmand.ts";
import { fname, gate, Resources, sleep, waitFor } from "./helpers.ts";

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

/** A loopback TCP server that calls `onData` for what each connection sends (the n-th connection is `n`, from 0). */
async function fakeServer(onData: (socket: Socket, data: string, n: number) => void): Promise<{ address: string; server: Server }> {
  let count = 0;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const n = count++;
    socket.on("data", (d) => onData(socket, d.toString("latin1"), n));
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  res.onCleanup(() => new Promise<void>((r) => {
    server.close(() => r());
    for (const s of sockets) s.destroy();
  }));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

/** A raw binary connection to gearmand, closed after the test. */
async function rawConn(): Promise<Socket> {
  const s = connect(g.port, g.host);
  await new Promise((r) => s.once("connect", r));
  res.onCleanup(() => void s.destroy());
  return s;
}

function gearadmin(flag: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("gearadmin", ["-h", g.host, "-p", String(g.port), flag], { encoding: "latin1", timeout: 5000 }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

describe("AdminClient audit", () => {
  it("names with tabs, names and uniques starting with ERR, and client ids with ' :' parse as gearadmin prints them", async () => {
    const tab = `${fname("tab")}\tfn`;
    const errFn = `ERRATA${fname("e")}`;
    const id = `${fname("my id")} :x`;
    const errUnique = `ERR ${fname("u")}`;
    const w = await rawConn();
    w.write(encodePacket(P.SET_CLIENT_ID, [id]));
    w.write(encodePacket(P.CAN_DO, [tab]));
    w.write(encodePacket(P.CAN_DO, [errFn]));
    const c = res.client(on());
    await c.submitBackground(errFn, "x", { unique: errUnique });
    const worker = await waitFor(async () => (await admin.workers()).find((r) => r.clientId === id && r.functions.length === 2), 3000, "worker row");
    expect([...worker.functions].sort()).toEqual([errFn, tab].sort());
    const [status, prio, uniques, version] = await Promise.all([admin.status(), admin.priorityStatus(), admin.showUniqueJobs(), admin.version()]);
    expect(status.find((r) => r.name === tab)).toEqual({ name: tab, total: 0, running: 0, workers: 1 });
    expect(status.find((r) => r.name === errFn)).toEqual({ name: errFn, total: 1, running: 0, workers: 1 });
    expect(prio.find((r) => r.name === errFn)).toEqual({ name: errFn, high: 0, normal: 1, low: 0, workers: 1 });
    expect(uniques).toContain(errUnique);
    expect(version).toMatch(/^1\.1\.20/);
    if (!existsSync("/usr/bin/gearadmin")) return;
    // gearadmin prints the server's rows verbatim: the typed rows, written back, are the same rows.
    const cli = (await gearadmin("--status")).split("\n").filter((l) => l.includes(tab) || l.includes(errFn)).sort();
    const ours = (await admin.status()).filter((r) => r.name === tab || r.name === errFn).map((r) => `${r.name}\t${r.total}\t${r.running}\t${r.workers}`).sort();
    expect(ours).toEqual(cli);
    expect(cli).toHaveLength(2);
    const cliWorker = (await gearadmin("--workers")).split("\n").find((l) => l.includes(id))!;
    expect(cliWorker.split(" ").slice(1).join(" ")).toBe(`${worker.ip} ${worker.clientId} : ${worker.functions.join(" ")}`);
    expect((await gearadmin("--show-unique-jobs")).split("\n")).toContain(errUnique);
  });

  it("300 pipelined commands of every kind each get their own answer", async () => {
    const fn = fname("pipe");
    await admin.createFunction(fn);
    const calls = Array.from({ length: 300 }, (_, i) => {
      switch (i % 6) {
        case 0: return admin.status().then((r) => r.some((x) => x.name === fn));
        case 1: return admin.version().then((v) => v.startsWith("1.1.20"));
        case 2: return admin.cancelJob(`H:nowhere:${i}`).then(() => false, (e) => e instanceof AdminCommandError && e.adminCode === "UNKNOWN_JOB");
        case 3: return admin.workers().then((r) => r.length > 0);
        case 4: return admin.command("show foo").then((l) => l.length === 1 && l[0] === "ERR UNKNOWN_SHOW_ARGUMENTS");
        default: return admin.getpid().then((p) => p === g.pid);
      }
    });
    expect(await Promise.all(calls)).toEqual(calls.map(() => true));
  });

  it("close() rejects the commands still waiting with ClosedError at once", async () => {
    const { address } = await fakeServer(() => {}); // accepts, never answers
    const a = new AdminClient({ server: address });
    const pending = [a.status(), a.version()].map((p) => p.catch((e: unknown) => e));
    await sleep(50);
    const t0 = Date.now();
    await a.close();
    for (const e of await Promise.all(pending)) {
      expect(e).toBeInstanceOf(ClosedError);
      expect((e as ClosedError).code).toBe("GEARMAN_CLOSED");
    }
    expect(Date.now() - t0).toBeLessThan(500);
    await expect(a.version()).rejects.toBeInstanceOf(ClosedError);
  });

  it("a silent server: timeout gives TimeoutError, abort gives AbortError, and a late answer goes to nobody", async () => {
    const answers: string[] = [];
    const { address } = await fakeServer((s, data) => {
      // Answers each version line 300 ms late.
      for (const _ of data.matchAll(/version\r\n/g)) setTimeout(() => s.write(`OK ${answers.push("x")}\n`), 300);
    });
    const a = new AdminClient({ server: address, timeout: 100 });
    res.onCleanup(() => a.close());
    const t0 = Date.now();
    const e = await a.version().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(TimeoutError);
    expect((e as TimeoutError).code).toBe("GEARMAN_TIMEOUT");
    expect(Date.now() - t0).toBeLessThan(290);
    // The next command waits longer and gets its own answer (OK 2), not the first one's late OK 1.
    expect(await a.version({ timeout: 2000 })).toBe("2");
    const ac = new AbortController();
    const aborted = a.version({ timeout: 5000, signal: ac.signal }).catch((err: unknown) => err);
    await sleep(20); // sent by now: its answer (OK 3) arrives later and is dropped
    ac.abort(new Error("stop"));
    expect(await aborted).toBeInstanceOf(AbortError);
    expect(await a.version({ timeout: 2000 })).toBe("4");
    // Aborted before it was sent: nothing is sent.
    const early = new AbortController();
    const none = a.version({ signal: early.signal }).catch((err: unknown) => err);
    early.abort();
    expect(await none).toBeInstanceOf(AbortError);
    expect(await a.version({ timeout: 2000 })).toBe("5");
    expect(() => new AdminClient({ server: address, timeout: 0 })).toThrow(InvalidArgumentError);
  });

  it("after text nobody asked for, the next command uses a new connection", async () => {
    const { address } = await fakeServer((s, _data, n) => {
      s.write(n === 0 ? "OK 1\nJUNK\n" : "OK 2\n");
    });
    const a = new AdminClient({ server: address });
    res.onCleanup(() => a.close());
    const e = await a.version().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).reason).toBe("bad_admin_response");
    expect(await a.version()).toBe("2");
  });

  it("a server that closes mid-reply, and a refused connect, are ConnectionErrors", async () => {
    const { address } = await fakeServer((s) => {
      s.end("a\t1\t0\t0\nb\t");
    });
    const a = new AdminClient({ server: address });
    res.onCleanup(() => a.close());
    const e = await a.status().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ConnectionError);
    const port = await freePort();
    const refused = new AdminClient({ server: `127.0.0.1:${port}` });
    res.onCleanup(() => refused.close());
    const r = await refused.version().catch((err: unknown) => err);
    expect(r).toBeInstanceOf(ConnectionError);
    expect((r as ConnectionError).code).toBe("GEARMAN_CONNECTION");
  });

  it("bad arguments are InvalidArgumentErrors and nothing is sent", async () => {
    const sent: string[] = [];
    const { address } = await fakeServer((_s, data) => void sent.push(data));
    const a = new AdminClient({ server: address });
    res.onCleanup(() => a.close());
    for (const call of [
      () => a.createFunction("a b"),
      () => a.dropFunction(""),
      () => a.cancelJob("H:x\t1"),
      () => a.maxQueue("f", 1e21), // gearmand's atoi reads "1e+21" as 1
      () => a.maxQueue("f", 1.5),
      () => a.maxQueue("f", NaN),
      () => a.maxQueue("f", -1),
      () => a.maxQueue("f", [1, 2] as unknown as [number, number, number]),
      () => a.version({ timeout: -1 }),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await sleep(50);
    expect(sent).toEqual([]);
  });
});
