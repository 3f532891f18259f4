// Node: worker and server failures, queue limits and several servers against real gearmand processes (issue #2).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectionError, JobFailedError, PacketType, ServerError,
} from "../../src/node.ts";
import { freePort } from "../support/gearmand.ts";
import { fname, gate, killableConnector, Resources, sleep, tapper, text, waitFor } from "./helpers.ts";

const res = new Resources();
afterEach(() => res.cleanup());

describe("worker lost mid-job", () => {
  it("worker.stop({ graceful: false }) mid-job: the job completes on another worker, with the same handle", async () => {
    const fn = fname("kill");
    const started = gate<string>();
    let firstAborted = false;
    const w1 = res.worker();
    w1.defineFunction(fn, async (job) => {
      started.resolve(job.handle);
      await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
      firstAborted = true;
      return "from w1 (dropped)";
    });
    await w1.start();
    const c = res.client();
    const task = c.submit(fn, "x");
    const events: string[] = [];
    task.on("*", (e) => events.push(e.type));
    const h1 = await started.promise;
    const w2 = res.worker();
    let h2 = "";
    w2.defineFunction(fn, (job) => {
      h2 = job.handle;
      return "from w2";
    });
    await w2.start();
    await w1.stop({ graceful: false });
    expect(text(await task.result())).toBe("from w2");
    expect(h2).toBe(h1);
    expect(firstAborted).toBe(true);
    expect(events).toEqual(["created", "complete"]);
  });

  it("a cut transport mid-job: gearmand requeues, the job completes once, the worker reconnects", async () => {
    const fn = fname("cut");
    const k = killableConnector();
    const runs: string[] = [];
    const wt = tapper();
    const w = res.worker({ connector: k.connector, tap: wt.tap });
    w.defineFunction(fn, async (job) => {
      runs.push(job.handle);
      if (runs.length === 1) {
        await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
        return "dropped";
      }
      return `attempt ${runs.length}`;
    });
    await w.start();
    const c = res.client();
    const task = c.submit(fn, "x", { timeout: 10_000 });
    await waitFor(() => runs.length === 1, 3000, "first run");
    k.transports[0]!.close();
    expect(text(await task.result())).toBe("attempt 2");
    expect(runs).toEqual([task.handle, task.handle]);
    expect(k.transports.length).toBe(2);
    // registered again on the new connection, and nothing was sent for the dropped attempt
    expect(wt.packets.filter((p) => p.direction === "out" && p.packet.type === PacketType.CAN_DO).length).toBe(2);
    expect(wt.packets.filter((p) => p.direction === "out" && p.packet.type === PacketType.WORK_COMPLETE).map((p) => text(p.packet.args[1]!))).toEqual(["attempt 2"]);
    expect(text(await c.execute(fn, "y"))).toBe("attempt 3");
  });

  it("a worker child process killed with SIGKILL mid-job: the job completes on another worker", async () => {
    const fn = fname("sigkill");
    const dir = mkdtempSync(join(tmpdir(), "gearman-child-"));
    res.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const entry = join(dir, "child.ts");
    writeFileSync(entry, `
      import { Worker } from ${JSON.stringify(resolve("src/node.ts"))};
      const [server, fn] = process.argv.slice(2);
      const w = new Worker({ servers: [server], logger: {} });
      w.defineFunction(fn, async (job) => {
        process.stdout.write("started " + job.handle + "\\n");
        await new Promise(() => {});
      });
      await w.start();
      process.stdout.write("ready\\n");
    `);
    const { build } = await import("esbuild");
    await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: join(dir, "child.mjs"), external: ["ws"], logLevel: "silent" });
    const server = `127.0.0.1:${(await import("vitest")).inject("gearmandPort")}`;
    const child = spawn(process.execPath, [join(dir, "child.mjs"), server, fn], { stdio: ["ignore", "pipe", "inherit"] });
    res.onCleanup(() => child.kill("SIGKILL"));
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_code, sig) => r(sig)));
    await waitFor(() => out.includes("ready"), 10_000, "child worker ready");
    const c = res.client();
    const task = c.submit(fn, "payload", { timeout: 15_000 });
    await waitFor(() => out.includes("started"), 5000, "child took the job");
    expect(out).toContain(`started ${await task.created()}`);
    const w2 = res.worker();
    w2.defineFunction(fn, (job) => `rescued ${job.text()}`);
    await w2.start();
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(text(await task.result())).toBe("rescued payload");
  }, 30_000);
});

describe("gearmand restarted", () => {
  it("in-flight tasks reject with ConnectionError; the worker re-registers and new submits succeed", async () => {
    const port = await freePort();
    let g = await res.gearmand({ port });
    const fn = fname("restart");
    const started = gate();
    let aborted = false;
    const wt = tapper();
    const clientId = fname("restart-worker");
    const w = res.worker({ servers: [g.address], tap: wt.tap, clientId });
    w.defineFunction(fn, async (job) => {
      if (job.text() === "hang") {
        started.resolve();
        await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
        aborted = true;
      }
      return `ok ${job.text()}`;
    });
    await w.start();
    const c = res.client({ servers: [g.address] });
    expect(text(await c.execute(fn, "before"))).toBe("ok before");
    const inflight = c.submit(fn, "hang");
    const queued = c.submit(`${fn}_nobody`, "queued");
    await started.promise;
    await queued.created();
    await g.stop();
    const e1 = await inflight.result().catch((e: unknown) => e);
    const e2 = await queued.result().catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ConnectionError);
    expect(e2).toBeInstanceOf(ConnectionError);
    await waitFor(() => aborted, 3000, "worker aborted the lost job");
    g = await res.gearmand({ port });
    // the client reconnects on demand; the worker reconnects with back-off and registers again
    expect(text(await c.execute(fn, "after", { timeout: 10_000 }))).toBe("ok after");
    const canDos = wt.packets.filter((p) => p.direction === "out" && p.packet.type === PacketType.CAN_DO);
    expect(canDos.length).toBe(2);
    const admin = res.admin(g.address);
    expect((await admin.status()).find((s) => s.name === fn)?.workers).toBe(1);
    expect((await admin.workers()).find((r) => r.clientId === clientId)?.functions).toEqual([fn]);
  });

  it("with resubmitOnReconnect and a unique, an in-flight task completes on the new gearmand", async () => {
    const port = await freePort();
    let g = await res.gearmand({ port });
    const fn = fname("resub");
    const started = gate();
    let runs = 0;
    const w = res.worker({ servers: [g.address] });
    w.defineFunction(fn, async (job) => {
      runs++;
      if (runs === 1) {
        started.resolve();
        await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
        return "lost";
      }
      return `done ${job.unique}`;
    });
    await w.start();
    const c = res.client({ servers: [g.address], resubmitOnReconnect: true });
    const task = c.submit(fn, "x", { unique: "idem-1", timeout: 20_000 });
    const plain = c.submit(fn, "y"); // no unique: never resubmitted
    await started.promise;
    await plain.created();
    await g.stop();
    await expect(plain.result()).rejects.toBeInstanceOf(ConnectionError);
    await sleep(300);
    g = await res.gearmand({ port });
    expect(text(await task.result())).toBe("done idem-1");
    expect(runs).toBe(2);
  });
});

describe("maxqueue", () => {
  it("QUEUE_ERROR goes to the right task among pipelined submits", async () => {
    const g = await res.gearmand();
    const limited = fname("limited");
    const free = fname("free");
    const admin = res.admin(g.address);
    await admin.createFunction(limited);
    await admin.maxQueue(limited, 1);
    const c = res.client({ servers: [g.address] });
    const order = [limited, free, limited, free, limited];
    const outcomes = await Promise.allSettled(order.map((fn, i) => c.submitBackground(fn, String(i))));
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "rejected"]);
    for (const i of [2, 4]) {
      const err = (outcomes[i] as PromiseRejectedResult).reason as ServerError;
      expect(err).toBeInstanceOf(ServerError);
      expect(err.serverCode).toBe("QUEUE_ERROR");
    }
    // foreground too: the task rejects, the others on the connection are unaffected
    const fg = [c.submit(limited, "fg"), c.submit(free, "fg2")];
    const e = await fg[0]!.result().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ServerError);
    expect((e as ServerError).serverCode).toBe("QUEUE_ERROR");
    expect(await fg[1]!.created()).toMatch(/^H:/);
    // lifting the limit lets submits through again
    await admin.maxQueue(limited);
    expect(await c.submitBackground(limited, "again")).toMatch(/^H:/);
    expect((await admin.status()).find((s) => s.name === limited)?.total).toBe(2);
  });
});

describe("several servers", () => {
  it("spreads jobs over two gearmands, and keeps working on one when the other stops", async () => {
    const g1 = await res.gearmand();
    const g2 = await res.gearmand();
    const fn = fname("multi");
    const w = res.worker({ servers: [g1.address, g2.address], concurrency: 4 });
    w.defineFunction(fn, (job) => `ok ${job.text()}`);
    await w.start();
    const t = tapper();
    const c = res.client({ servers: [g1.address, g2.address], tap: t.tap });
    await c.echo("connect");
    await sleep(50);
    const out = await Promise.all(Array.from({ length: 40 }, (_, i) => c.execute(fn, String(i))));
    expect(out.map(text)).toEqual(Array.from({ length: 40 }, (_, i) => `ok ${i}`));
    const created = (addr: string) =>
      t.packets.filter((p) => p.direction === "in" && p.packet.type === PacketType.JOB_CREATED && p.server.endsWith(addr)).length;
    expect(created(g1.address)).toBeGreaterThan(0);
    expect(created(g2.address)).toBeGreaterThan(0);
    expect(created(g1.address) + created(g2.address)).toBe(40);

    await g2.stop();
    await sleep(50);
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => c.execute(fn, `b${i}`, { timeout: 5000 })));
    expect(after.map(text)).toEqual(Array.from({ length: 20 }, (_, i) => `ok b${i}`));
    expect(created(g1.address) + created(g2.address)).toBe(60);
  });

  it("worker concurrency holds over two servers", async () => {
    const g1 = await res.gearmand();
    const g2 = await res.gearmand();
    const fn = fname("multiconc");
    let now = 0;
    let max = 0;
    const w = res.worker({ servers: [g1.address, g2.address], concurrency: 2 });
    w.defineFunction(fn, async () => {
      max = Math.max(max, ++now);
      await sleep(30);
      now--;
    });
    await w.start();
    const c1 = res.client({ servers: [g1.address] });
    const c2 = res.client({ servers: [g2.address] });
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? c1 : c2).execute(fn, String(i), { timeout: 10_000 })));
    expect(max).toBe(2);
  });

  it("works when one of the listed servers is down from the start", async () => {
    const g = await res.gearmand();
    const dead = `127.0.0.1:${await freePort()}`;
    const fn = fname("halfdead");
    const w = res.worker({ servers: [dead, g.address] });
    w.defineFunction(fn, () => "alive");
    await w.start();
    const c = res.client({ servers: [dead, g.address] });
    const out = await Promise.all(Array.from({ length: 10 }, () => c.execute(fn, "x", { timeout: 5000 })));
    expect(out.map(text)).toEqual(Array(10).fill("alive"));
  });

  it("rejects with ConnectionError when no server is reachable", async () => {
    const c = res.client({ servers: [`127.0.0.1:${await freePort()}`] });
    await expect(c.execute(fname("none"), "x")).rejects.toBeInstanceOf(ConnectionError);
    await expect(c.echo("x")).rejects.toBeInstanceOf(ConnectionError);
  });
});

describe("--job-retries with a dying worker", () => {
  it("a job whose worker connection dies every time fails with JobFailedError after N runs", async () => {
    const g = await res.gearmand({ args: ["--job-retries=2"] });
    const fn = fname("crashy");
    const k = killableConnector();
    let runs = 0;
    const w = res.worker({ servers: [g.address], connector: k.connector, reconnectDelay: 20 });
    w.defineFunction(fn, async (job) => {
      runs++;
      k.transports[k.transports.length - 1]!.close();
      await new Promise<void>((r) => job.signal.addEventListener("abort", () => r()));
    });
    await w.start();
    const c = res.client({ servers: [g.address] });
    await expect(c.execute(fn, "x", { timeout: 10_000 })).rejects.toBeInstanceOf(JobFailedError);
    expect(runs).toBe(2);
  });
});
